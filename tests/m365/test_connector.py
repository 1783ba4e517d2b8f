"""The connector against the Graph double: requests, limits and failures one by one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import Calendar, EventStatus
from connectors.m365 import M365Connector
from syncd.errors import AuthError, PermanentError, PreconditionFailed, TransientError
from tests.contract.suite import HAIRCUT, MONDAY_10, spec
from tests.graph import GraphDouble
from tests.m365.support import m365_connector

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
HOUR = timedelta(hours=1)


@pytest.fixture
async def connector(double: GraphDouble, tmp_path: Path) -> AsyncIterator[M365Connector]:
    made = m365_connector(double, directory=tmp_path)
    yield made
    await made.aclose()


@pytest.fixture
def calendar(connector: M365Connector, mailbox: str) -> Calendar:
    return connector.calendar(mailbox)


def posts(double: GraphDouble) -> int:
    log = double.stats.log
    return sum(1 for _, method, path, _ in log if method == "POST" and "events" in path)


async def test_a_create_whose_answer_was_lost_leaves_one_event(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    double.faults.drop_after_commit = 1
    ref = await calendar.create(spec())
    assert double.faults.drop_after_commit == 0  # the fault happened
    assert posts(double) == 2
    assert [e["id"] for e in double.events(mailbox)] == [ref.remote_id]


async def test_events_are_tagged_shown_and_timed_as_asked(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    await calendar.create(spec(status=EventStatus.TENTATIVE, location="Shop", description="Hi"))
    (event,) = double.events(mailbox)
    assert event["showAs"] == "tentative"
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"  # CLDR windowsZones
    assert (event["isReminderOn"], event["reminderMinutesBeforeStart"]) == (True, 15)
    assert [p["value"] for p in event["singleValueExtendedProperties"]] == ["b-1"]
    assert event["transactionId"]


async def test_a_fresh_connector_finds_the_event_by_its_tag(
    double: GraphDouble, calendar: Calendar, mailbox: str, tmp_path: Path
) -> None:
    ref = await calendar.create(spec())
    other = m365_connector(double, directory=tmp_path)
    try:
        found = await other.calendar(mailbox).find_by_booking("b-1")
        assert found is not None
        assert (found.ref, found.booking_key) == (ref, "b-1")
        assert await other.calendar(mailbox).find_by_booking("B-1") is None
    finally:
        await other.aclose()


async def test_a_create_after_the_booking_changed_finds_the_first_event(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    """A crash after the create, then a reschedule: the next create may not make a second."""
    await calendar.create(spec())
    with pytest.raises(PreconditionFailed):
        await calendar.create(spec(start=MONDAY_10 + HOUR, end=MONDAY_10 + 2 * HOUR, sequence=1))
    assert len(double.events(mailbox)) == 1


async def test_a_booking_on_two_calendars_of_one_mailbox_has_two_events(
    double: GraphDouble, connector: M365Connector, mailbox: str
) -> None:
    other = double.add_calendar(mailbox, "Bookings")
    await connector.calendar(mailbox).create(spec())
    await connector.calendar(f"{mailbox}/{other}").create(spec())
    assert sorted(e["calendarId"] == other for e in double.events(mailbox)) == [False, True]


async def test_an_event_deleted_by_hand_can_be_made_again(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    ref = await calendar.create(spec())
    double.delete_event_by_hand(mailbox, ref.remote_id)
    again = await calendar.create(replace(spec(), generation=1))  # a new create lineage
    assert again.remote_id != ref.remote_id
    assert len(double.events(mailbox)) == 1


async def test_concurrent_writes_go_in_batches_within_the_mailbox_limit(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    double.latency_seconds = 0.05
    specs = [spec(f"b-{i}", start=MONDAY_10 + i * HOUR, end=MONDAY_10 + (i + 1) * HOUR)
             for i in range(40)]
    refs = await asyncio.gather(*(calendar.create(s) for s in specs))
    assert len({r.remote_id for r in refs}) == 40
    assert double.stats.requests == 2  # two batches of 20
    assert double.stats.peak_in_flight[mailbox] == 4
    moved = [replace(s, start=s.start + HOUR / 2, end=s.end + HOUR / 2) for s in specs]
    updated = await asyncio.gather(
        *(calendar.update(r, m) for r, m in zip(refs, moved, strict=True))
    )
    await asyncio.gather(*(calendar.delete(r) for r in updated[:20]))
    assert len(double.events(mailbox)) == 20
    assert double.stats.requests == 5


async def test_throttling_is_waited_out_item_by_item(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    double.faults.throttle_rate = 0.4
    double.faults.unavailable_rate = 0.1
    double.faults.seed(3)
    specs = [spec(f"b-{i}") for i in range(60)]
    await asyncio.gather(*(calendar.create(s) for s in specs))
    assert len(double.events(mailbox)) == 60
    assert double.stats.throttled > 0
    assert double.stats.early_requests == 0


async def test_busy_time_reads_every_page(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    for i in range(600):  # more than two pages of 250
        start = MONDAY_10 + i * HOUR
        double.add_foreign_event(mailbox, f"e{i}", start, start + HOUR / 2,
                                 show_as="free" if i % 3 == 0 else "busy")
    busy = await calendar.busy_time(MONDAY_10, MONDAY_10 + 600 * HOUR)
    assert len(busy) == 400
    assert busy[0].start == MONDAY_10 + HOUR


async def test_busy_time_fails_rather_than_report_free_time(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    double.add_foreign_event(mailbox, "lunch", MONDAY_10, MONDAY_10 + HOUR)
    double.faults.unavailable_rate = 1.0
    with pytest.raises(TransientError):
        await calendar.busy_time(MONDAY_10 - HOUR, MONDAY_10 + HOUR)


async def test_a_slow_calendar_view_is_given_up_within_the_time_asked(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    double.add_foreign_event(mailbox, "lunch", MONDAY_10, MONDAY_10 + HOUR)
    assert await calendar.busy_within(MONDAY_10, MONDAY_10 + HOUR, 10.0)  # token fetched
    double.latency_seconds = 1.0
    with pytest.raises(TransientError):
        await calendar.busy_within(MONDAY_10, MONDAY_10 + HOUR, 0.2)


async def test_an_expired_token_is_renewed_once(
    double: GraphDouble, calendar: Calendar, connector: M365Connector
) -> None:
    await calendar.create(spec("b-0"))
    double.expire_tokens()
    await asyncio.gather(*(calendar.create(spec(f"b-{i}")) for i in range(1, 30)))
    assert double.stats.token_requests == 2
    assert connector.tokens.acquired == 2


async def test_revoked_consent_is_an_auth_error(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    double.add_app("0e4a7c5d-revoked", secret="revoked-secret")
    revoked = m365_connector(double, client_id="0e4a7c5d-revoked", secret="revoked-secret",
                             directory=tmp_path)
    try:
        await revoked.calendar(mailbox).create(spec())
        double.revoke("0e4a7c5d-revoked")
        with pytest.raises(AuthError, match="AADSTS65001"):
            await revoked.calendar(mailbox).create(spec("b-2"))
    finally:
        await revoked.aclose()


async def test_a_wrong_secret_is_an_auth_error(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    wrong = m365_connector(double, secret="not-the-secret", directory=tmp_path)
    try:
        with pytest.raises(AuthError, match="AADSTS"):
            await wrong.calendar(mailbox).create(HAIRCUT)
    finally:
        await wrong.aclose()


async def test_an_app_without_calendar_permission_is_an_auth_error(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    double.add_app("0e4a7c5d-readonly", secret="s", roles=("User.Read.All",))
    readonly = m365_connector(double, client_id="0e4a7c5d-readonly", secret="s",
                              directory=tmp_path)
    try:
        with pytest.raises(AuthError, match="403"):
            await readonly.calendar(mailbox).create(HAIRCUT)
    finally:
        await readonly.aclose()


async def test_a_bad_calendar_id_fails_each_operation_for_good(
    connector: M365Connector,
) -> None:
    with pytest.raises(PermanentError, match="not <user>"):
        await connector.calendar("anna@contoso.test/").create(HAIRCUT)


async def test_an_untrusted_server_is_a_permanent_error(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    untrusting = m365_connector(double, ca_file=None, directory=tmp_path)
    try:
        with pytest.raises(PermanentError, match="certificate"):
            await untrusting.calendar(mailbox).create(HAIRCUT)
    finally:
        await untrusting.aclose()


async def test_requests_that_hang_are_given_up_and_sent_again(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    impatient = m365_connector(double, timeout_seconds=0.5, directory=tmp_path)
    double.faults.timeout_rate = 0.3
    double.faults.seed(5)
    try:
        calendar = impatient.calendar(mailbox)
        for i in range(8):  # one at a time: a hanging batch item would hold its whole batch
            await calendar.create(spec(f"b-{i}"))
    finally:
        await impatient.aclose()
    assert len(double.events(mailbox)) == 8
    assert any(status == 0 for _, _, _, status in double.stats.log)  # some hung


async def test_closing_the_connector_answers_every_waiting_caller(
    double: GraphDouble, mailbox: str, tmp_path: Path
) -> None:
    closing = m365_connector(double, directory=tmp_path)
    double.latency_seconds = 0.5
    calendar = closing.calendar(mailbox)
    waiting = [asyncio.create_task(calendar.create(spec(f"b-{i}"))) for i in range(30)]
    await asyncio.sleep(0.2)
    await closing.aclose()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, TransientError) for r in results)

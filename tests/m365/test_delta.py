"""The calendarView delta feed against the Graph double: cost, paging, limits, resync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ChangeSet, ChangeWindow
from connectors.m365 import M365Connector
from connectors.m365.calendar import M365Calendar
from tests.contract.suite import MONDAY_10, held_after, spec
from tests.graph import GraphDouble

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WINDOW = ChangeWindow(MONDAY_10 - DAY, MONDAY_10 + 30 * DAY)


@pytest.fixture
def calendar(connector: M365Connector, mailbox: str) -> M365Calendar:
    found = connector.calendar(mailbox)
    assert isinstance(found, M365Calendar)
    return found


def fill(double: GraphDouble, mailbox: str, count: int) -> list[str]:
    """`count` foreign events, one an hour from MONDAY_10."""
    return [
        double.add_foreign_event(mailbox, f"busy {n}", MONDAY_10 + n * HOUR,
                                 MONDAY_10 + n * HOUR + HOUR / 2)
        for n in range(count)
    ]


async def listed(calendar: M365Calendar) -> ChangeSet:
    return await calendar.changes(None, WINDOW, {})


async def test_a_delta_costs_what_changed_not_what_the_calendar_holds(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    ids = fill(double, mailbox, 60)
    first = await listed(calendar)
    assert len(first.changed) == 60
    double.stats.reset()
    double.edit_event(mailbox, ids[7], subject="moved", start=MONDAY_10 + 100 * HOUR,
                      end=MONDAY_10 + 101 * HOUR)
    delta = await calendar.changes(first.cursor, WINDOW, held_after(first))
    assert [e.ref.remote_id for e in delta.changed] == [ids[7]]
    assert delta.changed[0].start == MONDAY_10 + 100 * HOUR
    assert double.stats.requests == 2  # one delta page, one look-up for the booking key
    double.stats.reset()
    quiet = await calendar.changes(delta.cursor, WINDOW, held_after(delta, held_after(first)))
    assert (quiet.changed, quiet.removed, double.stats.requests) == ((), frozenset(), 1)


async def test_pages_are_followed_to_the_delta_link(
    double: GraphDouble, calendar: M365Calendar, mailbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.m365.delta.PAGE_SIZE", 7)
    fill(double, mailbox, 30)
    first = await listed(calendar)
    assert len({e.ref.remote_id for e in first.changed}) == 30
    pages = [p for _, m, p, _ in double.stats.log if "delta" in p]
    assert len(pages) == 5  # 30 items, 7 a page


async def test_look_ups_stay_within_the_mailbox_limits_under_throttling(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    fill(double, mailbox, 45)
    double.faults.throttle_rate = 0.3
    double.faults.retry_after_seconds = 0.05
    double.faults.seed(6)
    first = await listed(calendar)
    assert len(first.changed) == 45
    assert double.stats.throttled > 0
    assert double.stats.early_requests == 0
    assert max(double.stats.peak_in_flight.values()) <= 4
    assert double.stats.batch_items >= 45  # the look-ups travelled in $batch


async def test_syncd_events_carry_their_booking_key_foreign_ones_none(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    own = await calendar.create(spec("b-7"))
    fill(double, mailbox, 1)
    answer = await listed(calendar)
    keys = {e.ref.remote_id: e.booking_key for e in answer.changed}
    assert keys.pop(own.remote_id) == "b-7"
    assert list(keys.values()) == [None]


async def test_an_expired_token_is_a_complete_listing_with_a_reason(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    ids = fill(double, mailbox, 3)
    first = await listed(calendar)
    double.delete_event_by_hand(mailbox, ids[0])
    double.expire_delta_tokens()
    answer = await calendar.changes(first.cursor, WINDOW, held_after(first))
    assert answer.complete
    assert answer.reset_reason is not None
    assert "syncStateNotFound" in answer.reset_reason
    assert answer.removed == {ids[0]}
    assert answer.changed == ()


async def test_occurrences_come_as_events_of_their_own(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    start = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2026-03-03", "numberOfOccurrences": 3},
    }
    double.add_foreign_event(mailbox, "standup", start, start + HOUR / 4, recurrence=recurrence)
    double.stats.reset()
    answer = await listed(calendar)
    assert sorted(e.start for e in answer.changed) == [start + n * DAY for n in range(3)]
    assert all(e.recurring and len(e.intervals) == 1 for e in answer.changed)
    assert double.stats.requests == 1  # occurrences need no look-up: syncd writes no series


async def test_a_cancelled_or_free_event_holds_no_time(
    double: GraphDouble, calendar: M365Calendar, mailbox: str
) -> None:
    (free,) = fill(double, mailbox, 1)
    double.edit_event(mailbox, free, show_as="free")
    (event,) = (await listed(calendar)).changed
    assert (event.busy, event.cancelled, event.intervals) == (False, False, ())


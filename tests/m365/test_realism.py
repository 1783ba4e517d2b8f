"""The connector against the strict double: only what Graph documents is relied on.

One test (or more) per point of "Microsoft 365 as Graph really behaves"; each fails
against a connector that leans on a reading of Graph its documentation does not
support (see tests/graph/forms.py and the module docstrings of the double).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.base import Calendar, ChangeWindow
from connectors.m365 import M365Connector
from connectors.m365.delta import LISTING_CURSOR
from connectors.m365.events import parse_time
from syncd.errors import ConfigError, RemoteNotFound
from syncd.ops.connector_metrics import count_connector_reports
from tests.contract.suite import MONDAY_10, spec
from tests.graph import AppCertificate, GraphDouble
from tests.m365.support import m365_connector

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WINDOW = ChangeWindow(MONDAY_10 - DAY, MONDAY_10 + 30 * DAY)


@pytest.fixture
def calendar(connector: M365Connector, mailbox: str) -> Calendar:
    return connector.calendar(mailbox)


def requests_of(double: GraphDouble, method: str) -> int:
    return sum(1 for _, m, path, _ in double.stats.log if m == method and "events" in path)


# -- 1. Deleted Items --------------------------------------------------------------


async def test_an_event_deleted_in_outlook_is_not_updated_in_deleted_items(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    ref = await calendar.create(spec())
    double.delete_event_by_hand(mailbox, ref.remote_id)
    with pytest.raises(RemoteNotFound):
        await calendar.update(ref, spec(start=MONDAY_10 + HOUR, end=MONDAY_10 + 2 * HOUR))
    assert await calendar.find_by_booking(spec().booking_key) is None
    assert double.deleted_events(mailbox) == [ref.remote_id]


# -- 2. time-zone names ------------------------------------------------------------


async def test_a_zone_outside_graphs_list_is_written_by_its_windows_name(
    double: GraphDouble, calendar: Calendar, mailbox: str
) -> None:
    await calendar.create(replace(spec(), timezone="Europe/Vienna"))
    (event,) = double.events(mailbox)
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"
    assert parse_time(event["start"]) == MONDAY_10


# -- 3. a $batch throttled as a whole ----------------------------------------------


@pytest.mark.parametrize("fault", ["throttle_rate", "batch_throttle_rate"])
async def test_a_batch_answered_424_is_retried_not_failed(
    double: GraphDouble, calendar: Calendar, mailbox: str, fault: str
) -> None:
    double.faults.seed(5)
    double.faults.retry_after_seconds = 0.05
    setattr(double.faults, fault, 0.4)
    specs = [spec(f"b-{i}", start=MONDAY_10 + i * HOUR, end=MONDAY_10 + (i + 1) * HOUR)
             for i in range(12)]
    refs = await asyncio.gather(*(calendar.create(s) for s in specs))
    assert len({r.remote_id for r in refs}) == 12
    assert len(double.events(mailbox)) == 12
    assert double.stats.early_requests == 0


# -- 5. create answers in HTML -------------------------------------------------------


async def test_a_create_answered_in_html_is_one_write(
    double: GraphDouble, calendar: Calendar
) -> None:
    await calendar.create(spec(description="Service: Cut\nNotes: <bring id> & more"))
    assert (requests_of(double, "POST"), requests_of(double, "PATCH")) == (1, 0)


# -- 6. documented forms, and the fallback from an undocumented one ----------------


async def test_the_booking_tag_is_found_through_documented_forms(
    calendar: Calendar,
) -> None:
    ref = await calendar.create(spec())
    found = await calendar.find_by_booking(spec().booking_key)
    assert found is not None
    assert found.ref.remote_id == ref.remote_id


async def test_the_default_calendar_is_watched_by_documented_delta(
    double: GraphDouble, connector: M365Connector, mailbox: str
) -> None:
    watched = connector.calendar(mailbox)
    first = await watched.changes(None, WINDOW, {})
    assert first.cursor is not None
    assert "/calendarView/delta" in first.cursor
    assert first.cursor != LISTING_CURSOR


def fallbacks() -> float:
    return REGISTRY.get_sample_value("syncd_graph_fallbacks_total", {"form": "delta"}) or 0.0


@pytest.mark.parametrize("undocumented", [False, True], ids=["strict", "lenient"])
async def test_another_calendar_falls_back_to_listing_when_delta_is_refused(
    double: GraphDouble, connector: M365Connector, mailbox: str, undocumented: bool
) -> None:
    double.undocumented_forms = undocumented
    try:
        other = double.add_calendar(mailbox, "Bookings")
        watched = connector.calendar(f"{mailbox}/{other}")
        count_connector_reports()  # as the daemon does when it starts
        before = fallbacks()
        first = await watched.changes(None, WINDOW, {})
        assert (first.cursor == LISTING_CURSOR) is not undocumented
        assert fallbacks() - before == (0 if undocumented else 1)
        assert (first.reset_reason is not None) is not undocumented
        busy = double.add_foreign_event(
            mailbox, "busy", MONDAY_10, MONDAY_10 + HOUR, calendar_id=other
        )
        second = await watched.changes(first.cursor, WINDOW, {})
        assert [e.ref.remote_id for e in second.changed] == [busy]
        assert fallbacks() - before == (0 if undocumented else 1)  # recorded once, kept
    finally:
        double.undocumented_forms = False


# -- 7. notifications tell of the default calendar only -----------------------------


async def test_another_calendar_asks_to_be_polled_more_often(
    double: GraphDouble, connector: M365Connector, mailbox: str
) -> None:
    other = double.add_calendar(mailbox, "Bookings")
    default = await connector.calendar(mailbox).changes(None, WINDOW, {})
    assert default.poll_within_seconds is None
    named = await connector.calendar(f"{mailbox}/{other}").changes(None, WINDOW, {})
    assert named.poll_within_seconds == connector.settings.other_calendar_poll_seconds == 60


# -- 8. certificate credentials ----------------------------------------------------


def certificate_connector(
    double: GraphDouble, tmp_path: Path, certificate: AppCertificate, **table: object
) -> M365Connector:
    client_id = str(uuid.uuid4())
    double.add_app(client_id, certificate_pem=certificate.certificate_pem)
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_text(certificate.private_key_pem)
    cert.write_text(certificate.certificate_pem)
    return m365_connector(
        double, directory=tmp_path, client_id=client_id, client_secret_file=None,
        certificate_key_file=str(key), certificate_file=str(cert), **table,
    )


async def test_a_certificate_credential_may_name_the_certificate_itself(
    double: GraphDouble, tmp_path: Path, mailbox: str
) -> None:
    certificate = AppCertificate.new()
    sha256 = certificate.sha256_thumbprint
    made = certificate_connector(double, tmp_path, certificate, certificate_thumbprint=sha256)
    try:
        await made.calendar(mailbox).create(spec())
        assert made.tokens.acquired == 1
    finally:
        await made.aclose()


def test_a_thumbprint_not_of_the_certificate_is_refused(
    double: GraphDouble, tmp_path: Path
) -> None:
    certificate = AppCertificate.new()
    with pytest.raises(ConfigError, match="does not match"):
        certificate_connector(double, tmp_path, certificate, certificate_thumbprint="AB" * 32)


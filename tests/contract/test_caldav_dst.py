"""Busy time of someone else's events at wall times DST makes ambiguous or skips, read by
syncd itself as RFC 5545 means them, on real servers (whose own `expand` disagrees)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.base import BusyInterval, ChangeWindow
from connectors.caldav import Settings, build
from connectors.caldav.instants import end_after, to_utc
from tests.contract.harness import BERLIN_VTIMEZONE, DavHarness, unique_name, wrap_vevent
from tests.reconcile.test_observe import WINDOWS_ZONE, vcalendar
from tests.servers import DavServer

pytestmark = pytest.mark.anyio
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# Berlin leaves DST on 2026-10-25 at 01:00 UTC (02:00-03:00 happens twice) and enters it on
# 2026-03-29 at 01:00 UTC (02:00-03:00 never happens).
FOREIGN = {
    # 02:30 is its first occurrence (CEST): sabre and DAViCal expand it to 01:30 UTC
    "repeated": ("DTSTART;TZID=Europe/Berlin:20261025T023000\nDTEND;TZID=Europe/Berlin:"
                 "20261025T033000", [(utc(10, 25, 0, 30), utc(10, 25, 2, 30))]),
    # an hour is an exact hour, even when it ends in the repeated hour's second pass
    "repeated-hour": ("DTSTART;TZID=Europe/Berlin:20261025T023000\nDURATION:PT1H",
                      [(utc(10, 25, 0, 30), utc(10, 25, 1, 30))]),
    # a skipped wall time takes the offset before the gap: 02:30 +01:00
    "skipped-hour": ("DTSTART;TZID=Europe/Berlin:20260329T023000\nDURATION:PT1H",
                     [(utc(3, 29, 1, 30), utc(3, 29, 2, 30))]),
    # each instance of a series lasts exactly as long as its first
    "daily": ("DTSTART;TZID=Europe/Berlin:20261024T023000\nDTEND;TZID=Europe/Berlin:"
              "20261024T033000\nRRULE:FREQ=DAILY;COUNT=3",
              [(utc(10, 24, 0, 30), utc(10, 24, 1, 30)), (utc(10, 25, 0, 30), utc(10, 25, 1, 30)),
               (utc(10, 26, 1, 30), utc(10, 26, 2, 30))]),
}


@pytest.fixture(params=["radicale", "xandikos"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[DavHarness]:
    server: DavServer = request.getfixturevalue(request.param)
    connector = build(Settings.model_validate(server.connector_settings()))
    collection = server.create_collection(unique_name())
    harness = DavHarness(connector.calendar(collection), server, collection)
    for name, (times, _) in FOREIGN.items():
        vevent = f"UID:{name}\nDTSTAMP:20260101T000000Z\nSUMMARY:{name}\n{times}"
        await harness.put_raw(f"{name}.ics", wrap_vevent(vevent, BERLIN_VTIMEZONE))
    yield harness
    await connector.aclose()


def expected(*names: str) -> list[BusyInterval]:
    found = [BusyInterval(*times) for name in names for times in FOREIGN[name][1]]
    return sorted(found, key=lambda i: (i.start, i.end))


async def test_busy_time_is_read_at_the_instants_rfc_5545_means(harness: DavHarness) -> None:
    autumn = await harness.calendar.busy_time(utc(10, 23, 0), utc(10, 28, 0))
    assert autumn == expected("repeated", "repeated-hour", "daily")
    spring = await harness.calendar.busy_time(utc(3, 28, 0), utc(3, 31, 0))
    assert spring == expected("skipped-hour")


async def test_the_change_feed_reads_the_same_instants(harness: DavHarness) -> None:
    window = ChangeWindow(utc(3, 1, 0), utc(12, 1, 0))
    answer = await harness.calendar.changes(None, window, {})
    assert {e.uid: list(e.intervals) for e in answer.changed} == {
        name: expected(name) for name in FOREIGN
    }


def _windows_zone() -> tzinfo:
    """A zone icalendar builds from a VTIMEZONE it does not know (as Outlook writes them)."""
    vevent = ("BEGIN:VEVENT\nUID:x\nDTSTAMP:20260101T000000Z\n"
              "DTSTART;TZID=W. Europe Standard Time:20260101T090000\nEND:VEVENT\n")
    start = icalendar.Calendar.from_ical(vcalendar(WINDOWS_ZONE, vevent)).events[0].start
    zone: tzinfo = start.tzinfo
    return zone


@pytest.mark.parametrize("zone", [BERLIN, _windows_zone()], ids=["zoneinfo", "vtimezone"])
@pytest.mark.parametrize(
    ("wall", "instant"),
    [
        (datetime(2026, 10, 25, 2, 30), utc(10, 25, 0, 30)),  # twice: the first
        (datetime(2026, 3, 29, 2, 30), utc(3, 29, 1, 30)),  # never: the offset before
        (datetime(2026, 7, 1, 12, 0), utc(7, 1, 10, 0)),
    ],
)
def test_wall_times_become_instants_as_rfc_5545_says(
    zone: tzinfo, wall: datetime, instant: datetime
) -> None:
    local = wall.replace(tzinfo=zone)
    assert to_utc(local, UTC) == instant
    assert to_utc(local.replace(fold=1), UTC) == instant


def test_durations_are_exact_but_days_are_nominal() -> None:
    repeated = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    assert end_after(repeated, HOUR, UTC) == utc(10, 25, 1, 30)
    eve = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    assert end_after(eve, timedelta(days=1), UTC) == utc(10, 25, 11, 0)  # 25 hours later
    assert end_after(eve, timedelta(days=1, hours=1), UTC) == utc(10, 25, 12, 0)

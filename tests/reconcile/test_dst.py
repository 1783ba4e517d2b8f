"""Double bookings with someone else's events at wall times DST repeats or skips: the event's
busy time is where RFC 5545 puts it, whichever server holds it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from syncd.reconcile.busy import observed_busy
from syncd.store.models import Staff
from syncd.timeutil import utcnow
from tests.contract.harness import BERLIN_VTIMEZONE, wrap_vevent
from tests.reconcile.hands import DavHands
from tests.reconcile.shop import HOUR, Shop, migrated, settings_for

pytestmark = pytest.mark.anyio
DAY = timedelta(days=1)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def next_change(month: int) -> datetime:
    """01:00 UTC of the next last Sunday of `month` at least two days ahead: Europe/Berlin
    changes its clocks then (March: 02:00 → 03:00; October: 03:00 → 02:00)."""
    soon = (utcnow() + timedelta(days=2)).date()
    year = soon.year if last_sunday(soon.year, month) >= soon else soon.year + 1
    return datetime.combine(last_sunday(year, month), datetime.min.time(), UTC) + HOUR


@pytest.fixture(params=["radicale", "xandikos"])
def shop(request: pytest.FixtureRequest, database_url: str) -> Iterator[Shop]:
    hands = DavHands(request.getfixturevalue(request.param))
    runtime = migrated(settings_for(database_url, hands, horizon_days=400, lookback_days=0))
    yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()


async def put_foreign(shop: Shop, name: str, wall_start: datetime, duration: str) -> None:
    assert isinstance(shop.hands, DavHands)
    lines = (f"UID:{name}\nDTSTAMP:20260101T000000Z\nSUMMARY:{name}\n"
             f"DTSTART;TZID=Europe/Berlin:{wall_start:%Y%m%dT%H%M%S}\nDURATION:{duration}")
    await shop.hands.put_raw(shop.calendar_id, f"{name}.ics", wrap_vevent(lines, BERLIN_VTIMEZONE))


async def test_events_at_repeated_and_skipped_wall_times_overlap_where_they_really_are(
    shop: Shop,
) -> None:
    autumn, spring = next_change(10), next_change(3)
    shop.seed("flag")
    shop.book("first-pass", autumn - HOUR / 2)  # 02:30-03:30 CEST
    shop.book("second-pass", autumn + HOUR / 2)  # 02:30-03:30 CET
    shop.book("after-gap", spring + HOUR / 2)  # 03:30-04:30 CEST
    # 02:30 for an hour: the repeated hour's first 02:30; the skipped 02:30 read as +01:00
    await put_foreign(shop, "repeated", autumn.replace(tzinfo=None) + 1.5 * HOUR, "PT1H")
    await put_foreign(shop, "skipped", spring.replace(tzinfo=None) + 1.5 * HOUR, "PT1H")
    await shop.settle()
    overlaps = {(c.booking_id, c.remote_id) for c in shop.open_conflicts()}
    assert overlaps == {
        (shop.booking("first-pass").id, f"{shop.calendar_id}repeated.ics"),
        (shop.booking("after-gap").id, f"{shop.calendar_id}skipped.ics"),
    }
    assert sorted(busy_of(shop, autumn, spring)) == [
        (spring + HOUR / 2, spring + 1.5 * HOUR),
        (autumn - HOUR / 2, autumn + HOUR / 2),
    ]


def busy_of(shop: Shop, *moments: datetime) -> list[tuple[datetime, datetime]]:
    """Alice's busy time from other events, as the slot finder reads it, near `moments`."""
    with shop.runtime.sessions.begin() as session:
        alice = session.scalars(select(Staff)).one()
        return [(i.start, i.end) for moment in moments
                for i in observed_busy(session, alice.id, moment - DAY, moment + DAY)]

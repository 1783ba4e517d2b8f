"""Busy time on a staff member's calendars, read through the connectors and cached.

Busy time is read in fixed stretches of days (so that listings for different
days share reads) and kept in the database: a listing reuses a stretch for
`manage.busy_cache_seconds`, and a confirmation, which cannot wait for a
calendar server, checks against the stored stretches as long as they are
younger than `manage.busy_confirm_seconds`. Whoever cannot read a calendar is
told so: unknown busy time never counts as free.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connectors.base import Connector
from syncd.errors import RemoteError
from syncd.manage.slots import Interval
from syncd.reconcile.busy import observed_busy_on
from syncd.store.models import BusyCache, CalendarBinding

log = logging.getLogger("syncd.manage")

STRETCH = timedelta(days=28)  # within Graph's getSchedule limit of 62 days
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)


@dataclass(frozen=True)
class BindingRef:
    """A bound calendar, detached from the session that found it."""

    id: int
    connector: str
    calendar_id: str


@dataclass(frozen=True)
class Stretch:
    binding: BindingRef
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + STRETCH


@dataclass
class BusyKnowledge:
    """What is known of the staff member's busy time over a range, and what is missing."""

    intervals: list[Interval]
    missing: list[Stretch]


# Built once: building a statement costs more than running it.
_ACTIVE = (
    select(CalendarBinding.id, CalendarBinding.connector, CalendarBinding.calendar_id)
    .where(CalendarBinding.staff_id == bindparam("staff_id"), CalendarBinding.active.is_(True))
    .order_by(CalendarBinding.id)
)
_STORED = select(
    BusyCache.binding_id, BusyCache.range_start, BusyCache.fetched_at, BusyCache.intervals
).where(
    BusyCache.binding_id.in_(bindparam("bindings", expanding=True)),
    BusyCache.range_start.in_(bindparam("starts", expanding=True)),
)


def active_bindings(session: Session, staff_id: int) -> list[BindingRef]:
    rows = session.execute(_ACTIVE, {"staff_id": staff_id})
    return [BindingRef(id_, connector, calendar_id) for id_, connector, calendar_id in rows]


def stretch_starts(needed: Interval) -> list[datetime]:
    """The starts of the fixed stretches that cover `needed`."""
    first = _EPOCH + STRETCH * ((needed.start - _EPOCH) // STRETCH)
    starts = []
    while first < needed.end:
        starts.append(first)
        first += STRETCH
    return starts


def cached_busy(
    session: Session,
    bindings: Sequence[BindingRef],
    needed: Interval,
    fresh_after: datetime,
) -> BusyKnowledge:
    """Stored busy time over `needed` fetched after `fresh_after`; the rest is missing."""
    knowledge = BusyKnowledge([], [])
    starts = stretch_starts(needed)
    stored = {(row.binding_id, row.range_start): row for row in session.execute(
        _STORED, {"bindings": [binding.id for binding in bindings], "starts": starts}
    )}
    for binding in bindings:
        for start in starts:
            row = stored.get((binding.id, start))
            if row is None or row.fetched_at <= fresh_after:
                knowledge.missing.append(Stretch(binding, start))
            else:
                knowledge.intervals.extend(_decode(row.intervals))
    # busy time reconciliation saw on the calendars since (syncd/reconcile/busy.py)
    observed = observed_busy_on(session, [b.id for b in bindings], needed.start, needed.end)
    knowledge.intervals.extend(Interval(i.start, i.end) for i in observed)
    return knowledge


def store_busy(
    session: Session, fetched: Mapping[Stretch, list[Interval]], now: datetime
) -> None:
    for stretch, intervals in fetched.items():
        row = session.get(BusyCache, (stretch.binding.id, stretch.start))
        if row is None:
            row = BusyCache(binding_id=stretch.binding.id, range_start=stretch.start)
            session.add(row)
        row.range_end, row.fetched_at, row.intervals = stretch.end, now, _encode(intervals)


async def fetch_busy(
    connectors: Mapping[str, Connector], stretches: Sequence[Stretch], seconds: float
) -> dict[Stretch, list[Interval]] | None:
    """Each stretch's busy time from its calendar, or None when any could not be read in time."""
    try:
        async with asyncio.timeout(seconds):
            found = await asyncio.gather(*(_read(connectors, s) for s in stretches))
    except (RemoteError, KeyError, TimeoutError) as error:
        log.warning("busy time unavailable: %s", type(error).__name__)
        return None
    return dict(zip(stretches, found, strict=True))


async def _read(connectors: Mapping[str, Connector], stretch: Stretch) -> list[Interval]:
    calendar = connectors[stretch.binding.connector].calendar(stretch.binding.calendar_id)
    busy = await calendar.busy_time(stretch.start, stretch.end)
    return [Interval(b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in busy]


def _encode(intervals: Sequence[Interval]) -> list[list[str]]:
    return [[i.start.isoformat(), i.end.isoformat()] for i in intervals]


def _decode(stored: Sequence[Sequence[str]]) -> list[Interval]:
    return [
        Interval(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in stored
    ]

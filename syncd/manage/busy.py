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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from connectors.base import BusyInterval, Connector
from syncd.errors import RemoteError
from syncd.manage.slots import Interval
from syncd.reconcile.busy import merged, observed_busy_on
from syncd.reconcile.models import ObservedBusy
from syncd.store.models import BusyCache, CalendarBinding
from syncd.store.prepared import Reader

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
ACTIVE = (
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
# The stored and the observed busy time of a staff member's active calendars, without
# lists in the parameters: syncd.store.prepared runs the SQL as it was compiled once.
STORED_OF_STAFF = (
    select(BusyCache.binding_id, BusyCache.range_start, BusyCache.fetched_at, BusyCache.intervals)
    .join(CalendarBinding, CalendarBinding.id == BusyCache.binding_id)
    .where(
        CalendarBinding.staff_id == bindparam("staff_id"), CalendarBinding.active.is_(True),
        BusyCache.range_start >= bindparam("first_start"),
        BusyCache.range_start <= bindparam("last_start"),
    )
)
OBSERVED_OF_STAFF = (
    select(ObservedBusy.start, ObservedBusy.end)
    .join(CalendarBinding, CalendarBinding.id == ObservedBusy.binding_id)
    .where(
        CalendarBinding.staff_id == bindparam("staff_id"), CalendarBinding.active.is_(True),
        ObservedBusy.start < bindparam("end"), ObservedBusy.end > bindparam("start"),
    )
    .order_by(ObservedBusy.start, ObservedBusy.end)
)


def active_bindings(session: Session, staff_id: int) -> list[BindingRef]:
    rows = session.execute(ACTIVE, {"staff_id": staff_id})
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
    starts = stretch_starts(needed)
    stored = session.execute(
        _STORED, {"bindings": [binding.id for binding in bindings], "starts": starts}
    )
    # busy time reconciliation saw on the calendars since (syncd/reconcile/busy.py)
    observed = observed_busy_on(session, [b.id for b in bindings], needed.start, needed.end)
    return _knowledge(bindings, starts, stored, observed, fresh_after)


def staff_busy(
    reader: Reader, staff_id: int, needed: Interval, fresh_after: datetime
) -> BusyKnowledge:
    """cached_busy over the staff member's active calendars, read through `reader`."""
    bindings = [BindingRef(*row) for row in reader.all(ACTIVE, {"staff_id": staff_id})]
    starts = stretch_starts(needed)
    if not (bindings and starts):
        return BusyKnowledge([], [])
    stored = reader.all(STORED_OF_STAFF, {
        "staff_id": staff_id, "first_start": starts[0], "last_start": starts[-1],
    })
    seen = reader.all(OBSERVED_OF_STAFF, {
        "staff_id": staff_id, "start": needed.start, "end": needed.end,
    })
    observed = merged([BusyInterval(start, end) for start, end in seen])
    return _knowledge(bindings, starts, stored, observed, fresh_after)


def _knowledge(
    bindings: Sequence[BindingRef],
    starts: Sequence[datetime],
    stored_rows: Iterable[Sequence[Any]],
    observed: Iterable[BusyInterval],
    fresh_after: datetime,
) -> BusyKnowledge:
    """Each binding's stretches, known (stored after `fresh_after`) or missing; then what
    was observed."""
    stored = {(binding_id, start): (fetched_at, intervals)
              for binding_id, start, fetched_at, intervals in stored_rows}
    knowledge = BusyKnowledge([], [])
    for binding in bindings:
        for start in starts:
            fetched_at, intervals = stored.get((binding.id, start), (None, None))
            if fetched_at is None or fetched_at <= fresh_after:
                knowledge.missing.append(Stretch(binding, start))
            else:
                knowledge.intervals.extend(_decode(intervals))
    knowledge.intervals.extend(Interval(i.start, i.end) for i in observed)
    return knowledge


def stored_stretches(
    session: Session, stretches: Sequence[Stretch], fresh_after: datetime
) -> dict[Stretch, list[Interval]]:
    """The busy time of those of `stretches` stored after `fresh_after`."""
    rows = session.execute(_STORED, {
        "bindings": sorted({stretch.binding.id for stretch in stretches}),
        "starts": sorted({stretch.start for stretch in stretches}),
    })
    fresh = {(binding_id, start): intervals or []
             for binding_id, start, fetched_at, intervals in rows if fetched_at > fresh_after}
    return {stretch: _decode(fresh[stretch.binding.id, stretch.start])
            for stretch in stretches if (stretch.binding.id, stretch.start) in fresh}


def store_busy(
    session: Session, fetched: Mapping[Stretch, list[Interval]], now: datetime
) -> None:
    for stretch, intervals in fetched.items():
        row = session.get(BusyCache, (stretch.binding.id, stretch.start))
        if row is None:
            row = BusyCache(binding_id=stretch.binding.id, range_start=stretch.start)
            session.add(row)
        row.range_end, row.fetched_at, row.intervals = stretch.end, now, _encode(intervals)


def forget_stretches(
    session: Session, binding_ids: Sequence[int], touched: Iterable[Interval]
) -> None:
    """Drop the stored stretches of these calendars that overlap `touched`: the next
    listing reads them afresh."""
    starts = sorted({start for interval in touched for start in stretch_starts(interval)})
    if not (binding_ids and starts):
        return
    session.execute(delete(BusyCache).where(
        BusyCache.binding_id.in_(list(binding_ids)), BusyCache.range_start.in_(starts),
    ))


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

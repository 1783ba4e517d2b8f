"""Busy time seen on a staff member's calendars, for the slot finder.

Only events syncd did not write are kept (the bookings are known already),
within each calendar's watched window, as of its last reconcile pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from connectors.base import BusyInterval
from syncd.reconcile.models import ObservedBusy
from syncd.store.models import CalendarBinding


def observed_busy(
    session: Session, staff_id: int, start: datetime, end: datetime
) -> list[BusyInterval]:
    """The staff member's busy intervals overlapping [start, end), merged and in order."""
    query = (
        select(ObservedBusy.start, ObservedBusy.end)
        .join(CalendarBinding, CalendarBinding.id == ObservedBusy.binding_id)
        .where(ObservedBusy.staff_id == staff_id, CalendarBinding.active.is_(True))
    )
    return _merged_within(session, query, start, end)


def observed_busy_on(
    session: Session, binding_ids: Sequence[int], start: datetime, end: datetime
) -> list[BusyInterval]:
    """The same, seen on these calendars only."""
    query = select(ObservedBusy.start, ObservedBusy.end).where(
        ObservedBusy.binding_id.in_(list(binding_ids))
    )
    return _merged_within(session, query, start, end)


def _merged_within(
    session: Session, query: Select[datetime, datetime], start: datetime, end: datetime
) -> list[BusyInterval]:
    query = query.where(ObservedBusy.start < end, ObservedBusy.end > start)
    query = query.order_by(ObservedBusy.start, ObservedBusy.end)
    return merged([BusyInterval(s, e) for s, e in session.execute(query)])


def merged(intervals: list[BusyInterval]) -> list[BusyInterval]:
    """Sorted intervals with the overlapping and touching ones joined."""
    joined: list[BusyInterval] = []
    for interval in intervals:
        if joined and interval.start <= joined[-1].end:
            last = joined[-1]
            joined[-1] = BusyInterval(last.start, max(last.end, interval.end))
        else:
            joined.append(interval)
    return joined

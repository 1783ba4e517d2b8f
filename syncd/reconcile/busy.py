"""Busy time seen on a staff member's calendars, for the slot finder.

Only events syncd did not write are kept (the bookings are known already),
within each calendar's watched window, as of its last reconcile pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connectors.base import BusyInterval
from syncd.reconcile.models import ObservedBusy
from syncd.store.models import CalendarBinding

# Built once: building a statement costs more than running it.
_OVERLAPPING = (
    select(ObservedBusy.start, ObservedBusy.end)
    .where(ObservedBusy.start < bindparam("end"), ObservedBusy.end > bindparam("start"))
    .order_by(ObservedBusy.start, ObservedBusy.end)
)
_OF_STAFF = _OVERLAPPING.join(
    CalendarBinding, CalendarBinding.id == ObservedBusy.binding_id
).where(ObservedBusy.staff_id == bindparam("staff_id"), CalendarBinding.active.is_(True))
_ON_CALENDARS = _OVERLAPPING.where(
    ObservedBusy.binding_id.in_(bindparam("binding_ids", expanding=True))
)


def observed_busy(
    session: Session, staff_id: int, start: datetime, end: datetime
) -> list[BusyInterval]:
    """The staff member's busy intervals overlapping [start, end), merged and in order."""
    rows = session.execute(_OF_STAFF, {"staff_id": staff_id, "start": start, "end": end})
    return merged([BusyInterval(s, e) for s, e in rows])


def observed_busy_on(
    session: Session, binding_ids: Sequence[int], start: datetime, end: datetime
) -> list[BusyInterval]:
    """The same, seen on these calendars only."""
    parameters = {"binding_ids": list(binding_ids), "start": start, "end": end}
    rows = session.execute(_ON_CALENDARS, parameters)
    return merged([BusyInterval(s, e) for s, e in rows])


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

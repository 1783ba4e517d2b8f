"""Conflicts as the merchant sees them: finding, listing, and resolving them by a rule.

Resolving applies one rule to one conflict, in one transaction, and closes it
(it stays in the history):

    booking_wins   the event is written again as the booking says (an overlap: the
                   booking simply stays)
    calendar_wins  the booking takes the calendar's side: a moved event's time, or, for
                   a deleted event, the booking is cancelled (the merchant decided it)
    dismiss        nothing changes
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from connectors.base import RemoteRef
from syncd.domain.bookings import BookingStatus
from syncd.errors import Conflict, NotFound
from syncd.reconcile.conflicts import close
from syncd.reconcile.mirrors import rewrite
from syncd.reconcile.models import CalendarConflict, ConflictStatus
from syncd.reconcile.rules import can_take_time
from syncd.store.bookings import change_booking
from syncd.store.changes import Actor
from syncd.store.keyed import with_keys
from syncd.store.models import (
    Booking,
    Merchant,
    Mirror,
    Presence,
)
from syncd.store.session import SyncdSession
from syncd.webhooks.emit import ConflictKind, Resolution

Choice = Literal["booking_wins", "calendar_wins", "dismiss"]
StatusFilter = Literal["open", "resolved", "all"]
RESOLUTION: dict[str, Resolution] = {
    "booking_wins": Resolution.BOOKING_WINS,
    "calendar_wins": Resolution.CALENDAR_WINS,
    "dismiss": Resolution.DISMISSED,
}
_MOVES = (ConflictKind.MOVED, ConflictKind.EDITED)


@dataclass(frozen=True)
class ConflictView:
    """A conflict with the keys that name it from the outside."""

    conflict: CalendarConflict
    merchant: str
    booking: str
    staff: str
    calendar: str


def _views() -> Select[CalendarConflict, str, str, str, str]:
    return with_keys(CalendarConflict, CalendarConflict.booking_id, CalendarConflict.binding_id)


def conflict_view(session: Session, conflict_id: int, merchant: Merchant | None) -> ConflictView:
    query = _views().where(CalendarConflict.id == conflict_id)
    if merchant is not None:
        query = query.where(CalendarConflict.merchant_id == merchant.id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"conflict {conflict_id}")
    return ConflictView(*row)


def conflict_page(
    session: Session, merchant: Merchant | None, status: StatusFilter, after: int, limit: int
) -> tuple[list[ConflictView], int | None]:
    """Up to `limit` conflicts after id `after`, oldest first, and the cursor of the next page."""
    query = _views().where(CalendarConflict.id > after)
    if merchant is not None:
        query = query.where(CalendarConflict.merchant_id == merchant.id)
    if status != "all":
        query = query.where(CalendarConflict.status == status)
    rows = session.execute(query.order_by(CalendarConflict.id).limit(limit + 1)).all()
    views = [ConflictView(*row) for row in rows[:limit]]
    return views, (views[-1].conflict.id if len(rows) > limit else None)


def resolve(
    session: SyncdSession,
    conflict_id: int,
    merchant: Merchant | None,
    choice: Choice,
    now: datetime,
) -> ConflictView:
    """Apply `choice` to the conflict and close it; the same request again changes nothing."""
    conflict = conflict_view(session, conflict_id, merchant).conflict
    session.refresh(conflict, with_for_update=True)
    resolution = RESOLUTION[choice]
    if conflict.status == ConflictStatus.RESOLVED:
        if (conflict.resolution, conflict.resolved_by) == (resolution, Actor.MERCHANT):
            return conflict_view(session, conflict_id, merchant)
        raise Conflict(f"conflict {conflict_id} is resolved already ({conflict.resolution})")
    booking = session.get_one(Booking, conflict.booking_id, with_for_update=True,
                              populate_existing=True)
    if choice == "booking_wins":
        _booking_wins(session, conflict, booking, now)
    elif choice == "calendar_wins":
        _calendar_wins(session, conflict, booking)
    close(session, conflict, resolution, actor=Actor.MERCHANT,
          reason=f"resolved by the merchant: {choice}", now=now)
    return conflict_view(session, conflict_id, merchant)


def _live(booking: Booking) -> None:
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("the booking is cancelled: nothing to apply; dismiss the conflict")


def _booking_wins(
    session: Session, conflict: CalendarConflict, booking: Booking, now: datetime
) -> None:
    if conflict.kind == ConflictKind.OVERLAP:
        return  # the booking stays; the other event is not syncd's to change
    _live(booking)
    mirror = session.scalar(
        select(Mirror).where(Mirror.booking_id == booking.id,
                             Mirror.binding_id == conflict.binding_id).with_for_update()
    )
    if mirror is None or mirror.desired != Presence.PRESENT:
        raise Conflict("the booking is no longer on this calendar; dismiss the conflict")
    ref = RemoteRef(mirror.remote_id, mirror.etag) if mirror.remote_id else None
    rewrite(session, mirror, ref, now)


def _calendar_wins(session: SyncdSession, conflict: CalendarConflict, booking: Booking) -> None:
    if conflict.kind == ConflictKind.OVERLAP:
        raise Conflict(
            "an overlap has no calendar side to take: reschedule or cancel the booking, "
            "or dismiss the conflict"
        )
    _live(booking)
    if conflict.kind in _MOVES:
        start, end = _calendar_times(conflict)
        change_booking(session, booking, {"start": start, "end": end}, Actor.RECONCILIATION)
    else:
        change_booking(session, booking, {"status": BookingStatus.CANCELLED},
                       Actor.RECONCILIATION)


def _calendar_times(conflict: CalendarConflict) -> tuple[datetime, datetime]:
    side = conflict.calendar_side
    start, end = side.get("start"), side.get("end")
    if not start or not end:
        raise Conflict("the calendar shows no time for this booking")
    begins, ends = datetime.fromisoformat(start), datetime.fromisoformat(end)
    if not can_take_time(begins, ends):
        raise Conflict("the calendar's time cannot be a booking's (empty, or over 7 days)")
    return begins, ends

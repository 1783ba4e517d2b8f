"""What each happening becomes as a webhook event, queued in the happening's own transaction.

Payloads name things by the keys the platform already uses (merchant, booking,
service, staff, calendar), carry times as ISO 8601 with an offset, the status
and who acted. They never carry customer details, notes, manage tokens or
secrets: the platform owns the customer record, and a webhook body may be
logged by any proxy on its way.

Booking changes that touch only details (notes, customer data) send nothing:
no field of a booking payload would differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from syncd.store.changes import Actor, BookingChange, ChangeKind, Snapshot
from syncd.store.models import Booking, CalendarBinding, Merchant, Mirror, Service, Staff
from syncd.timeutil import utc_iso, utc_iso_or_none
from syncd.webhooks.outbox import EventType, queue_event, subscribers

Keyed = TypeVar("Keyed", Merchant, Service, Staff)
_EVENT_OF_CHANGE = {
    ChangeKind.CREATED: EventType.BOOKING_CREATED,
    ChangeKind.RESCHEDULED: EventType.BOOKING_RESCHEDULED,
    ChangeKind.CANCELLED: EventType.BOOKING_CANCELLED,
    ChangeKind.STATUS_CHANGED: EventType.BOOKING_STATUS_CHANGED,
}


class ConflictKind(StrEnum):
    """What reconciliation found on a staff calendar."""

    MOVED = "moved"  # the mirrored event was moved by hand
    EDITED = "edited"  # its details were edited by hand
    DELETED = "deleted"  # it was deleted by hand
    MISSING = "missing"  # it is not there, and nobody is known to have deleted it
    OVERLAP = "overlap"  # another event overlaps the booking: a double booking


class Resolution(StrEnum):
    BOOKING_WINS = "booking_wins"  # the event was put back as the booking says
    CALENDAR_WINS = "calendar_wins"  # the booking was changed to match the calendar
    DISMISSED = "dismissed"  # looked at and left as it is
    CLEARED = "cleared"  # closed by itself: the calendar or the booking came back in line


@dataclass(frozen=True)
class ConflictReport:
    """A conflict as reconciliation records it; `resolution` is set once it is resolved."""

    conflict_id: str  # reconciliation's own id, the same in detected and resolved
    booking: Booking
    kind: ConflictKind
    binding: CalendarBinding  # the calendar it was found on
    found_start: datetime | None = None  # what the calendar shows, when it shows anything
    found_end: datetime | None = None
    resolution: Resolution | None = None
    actor: Actor = Actor.RECONCILIATION


def _key(session: Session, model: type[Keyed], row_id: int) -> str:
    return session.get_one(model, row_id).key  # from the identity map, mostly


def _state(session: Session, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "start": utc_iso(snapshot.start),
        "end": utc_iso(snapshot.end),
        "staff": _key(session, Staff, snapshot.staff_id),
        "status": snapshot.status,
    }


def booking_fields(session: Session, booking: Booking, now: Snapshot) -> dict[str, Any]:
    """The booking as a payload shows it, with `now` as its time, staff and status."""
    return {
        "merchant": _key(session, Merchant, booking.merchant_id),
        "booking": booking.key,
        "service": _key(session, Service, booking.service_id),
        "origin": booking.origin,
        "version": booking.version,
        "sequence": now.sequence,
        **_state(session, now),
    }


def on_booking_change(session: Session, change: BookingChange) -> None:
    """Listener in syncd.wiring.CHANGE_LISTENERS; a back-fill is no news to the platform."""
    event_type = _EVENT_OF_CHANGE.get(change.kind)
    if event_type is None or change.actor == Actor.IMPORT:
        return
    booking = change.booking
    targets = subscribers(session, booking.merchant_id, event_type)
    if not targets:
        return
    data = booking_fields(session, booking, change.after) | {"actor": str(change.actor)}
    if change.before is not None:
        data["previous"] = _state(session, change.before)
    queue_event(session, targets, event_type, data, booking_id=booking.id)


def emit_conflict_event(session: Session, report: ConflictReport) -> None:
    """conflict.detected, or conflict.resolved when the report carries its resolution."""
    resolved = report.resolution is not None
    event_type = EventType.CONFLICT_RESOLVED if resolved else EventType.CONFLICT_DETECTED
    booking = report.booking
    targets = subscribers(session, booking.merchant_id, event_type)
    if not targets:
        return
    conflict = {
        "id": report.conflict_id,
        "kind": str(report.kind),
        "calendar": _calendar(session, report.binding),
        "found_start": utc_iso_or_none(report.found_start),
        "found_end": utc_iso_or_none(report.found_end),
        "resolution": str(report.resolution) if resolved else None,
    }
    data = booking_fields(session, booking, Snapshot.of(booking))
    data |= {"conflict": conflict, "actor": str(report.actor)}
    queue_event(session, targets, event_type, data, booking_id=booking.id)


def _calendar(session: Session, binding: CalendarBinding) -> dict[str, str]:
    return {"staff": _key(session, Staff, binding.staff_id), "key": binding.key}


def mirror_dead_lettered(session: Session, mirror_id: int, error: str) -> None:
    """Called where the worker records a dead letter; `error` is "Kind: message"."""
    mirror = session.get(Mirror, mirror_id)
    if mirror is None:
        return
    booking = mirror.booking
    targets = subscribers(session, booking.merchant_id, EventType.MIRROR_DEAD_LETTERED)
    if not targets:
        return
    detail = {
        "id": mirror.id,
        "calendar": _calendar(session, mirror.binding),
        "desired": mirror.desired,
        "attempts": mirror.attempts,
        # the error's kind only: a server's message may quote anything
        "error": error.partition(":")[0],
    }
    data = booking_fields(session, booking, Snapshot.of(booking)) | {"mirror": detail}
    queue_event(session, targets, EventType.MIRROR_DEAD_LETTERED, data, booking_id=booking.id)

"""Creating, updating, cancelling and cloning bookings, each in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus, apply_changes, event_uid, initial_status
from syncd.domain.manage_rules import ManageRules, rules_at_booking
from syncd.errors import Conflict, InputError
from syncd.schemas import BookingIn, CloneIn
from syncd.store.catalog import find_in_merchant, get_in_merchant, reference
from syncd.store.changes import (
    Actor,
    BookingChange,
    ChangeKind,
    Snapshot,
    kinds_between,
)
from syncd.store.mirrors import sync_booking_mirrors
from syncd.store.models import Booking, Merchant, Service, Staff
from syncd.store.session import SyncdSession, publish
from syncd.timeutil import as_utc, utcnow


def _end(start: datetime, end: datetime | None, service: Service) -> datetime:
    return as_utc(end) if end else as_utc(start) + timedelta(minutes=service.duration_minutes)


def _values(session: Session, merchant: Merchant, data: BookingIn) -> dict[str, object]:
    service = reference(session, Service, merchant, data.service, "service")
    staff = reference(session, Staff, merchant, data.staff, "staff")
    return {
        "service_id": service.id,
        "staff_id": staff.id,
        "start": as_utc(data.start),
        "end": _end(data.start, data.end, service),
        "customer_name": data.customer.name,
        "customer_email": data.customer.email,
        "customer_phone": data.customer.phone,
        "customer_timezone": data.customer.timezone,
        "origin": data.origin,
        "notes": data.notes,
        "paid": data.paid,
        "status": data.status or initial_status(service.requires_approval),
    }


def put_booking(
    session: SyncdSession,
    merchant: Merchant,
    key: str,
    data: BookingIn,
    actor: Actor = Actor.MERCHANT,
) -> tuple[Booking, bool]:
    """Create the booking or bring it to `data`; repeating a request changes nothing."""
    values = _values(session, merchant, data)
    booking = find_in_merchant(session, Booking, merchant, key, lock=True)
    if booking is None:
        service = session.get_one(Service, values["service_id"])
        values["manage_rules"] = rules_at_booking(
            service, data.origin, data.self_manage, data.terms()).to_json()
        return _create(session, merchant, key, values, actor), True
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("a cancelled booking cannot be changed; clone it into a new booking")
    _keep_self_manage(booking, data)
    if data.status is None:
        values["status"] = booking.status  # keep an approval already given
    change_booking(session, booking, values, actor)
    return booking, False


def _rules_of_clone(source: Booking) -> dict[str, object]:
    """A clone is made under the service's rules of today and its source's own choices."""
    made_with = ManageRules.from_json(source.manage_rules)
    return rules_at_booking(
        source.service, source.origin, made_with.booking_choice, made_with.terms()).to_json()


def _keep_self_manage(booking: Booking, data: BookingIn) -> None:
    """Self-management, its cutoff and actions are decided when a booking is made; a later
    update may only repeat them."""
    made_with = ManageRules.from_json(booking.manage_rules)
    terms = made_with.terms()
    asked = {"self_manage": (data.self_manage, made_with.booking_choice),
             "manage_cutoff_hours": (data.manage_cutoff_hours, terms.cutoff_hours),
             "manage_actions": (data.terms().actions, terms.actions)}
    for field, (given, made) in asked.items():
        if given is not None and given != made:
            raise InputError({field: "decided when the booking was made; it cannot change"})


def change_booking(
    session: SyncdSession, booking: Booking, values: dict[str, object], actor: Actor
) -> bool:
    """Apply `values`; if anything changed, move its events and tell the listeners."""
    before = Snapshot.of(booking)
    if not apply_changes(booking, values).any:
        return False
    booking.updated_at = utcnow()
    sync_booking_mirrors(session, booking)
    after = Snapshot.of(booking)
    for kind in kinds_between(before, after):
        publish(session, BookingChange(kind, booking, actor, before, after))
    return True


def _create(
    session: SyncdSession, merchant: Merchant, key: str, values: dict[str, object], actor: Actor
) -> Booking:
    now = utcnow()
    booking = Booking(
        merchant_id=merchant.id,
        key=key,
        uid=event_uid(merchant.key, key),
        version=1,
        sequence=0,
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(booking)
    sync_booking_mirrors(session, booking, new=True, imported=actor == Actor.IMPORT)
    publish(session, BookingChange(ChangeKind.CREATED, booking, actor, None, Snapshot.of(booking)))
    return booking


def cancel_booking(
    session: SyncdSession, merchant: Merchant, key: str, actor: Actor = Actor.MERCHANT
) -> Booking:
    """Cancel; cancelling a cancelled booking is a no-op, so retries are safe."""
    booking = get_in_merchant(session, Booking, merchant, key, lock=True)
    change_booking(session, booking, {"status": BookingStatus.CANCELLED}, actor)
    return booking


def clone_booking(
    session: SyncdSession, merchant: Merchant, key: str, data: CloneIn
) -> tuple[Booking, bool]:
    """A new booking from a cancelled one; repeating the clone returns the same booking."""
    source = get_in_merchant(session, Booking, merchant, key)
    existing = find_in_merchant(session, Booking, merchant, data.key)
    if existing is not None:
        if existing.cloned_from_id != source.id:
            raise InputError({"key": f"booking {data.key!r} already exists"})
        return existing, False
    if source.status != BookingStatus.CANCELLED:
        raise Conflict("only a cancelled booking can be cloned")
    values = _clone_values(session, merchant, source, data)
    return _create(session, merchant, data.key, values, Actor.MERCHANT), True


def _clone_values(
    session: Session, merchant: Merchant, source: Booking, data: CloneIn
) -> dict[str, object]:
    start = as_utc(data.start) if data.start else source.start
    end = _end(start, data.end, source.service) if data.start or data.end else source.end
    if end <= start:
        raise InputError({"end": "end must be after start"})
    staff_id = source.staff_id
    if data.staff is not None:
        staff_id = reference(session, Staff, merchant, data.staff, "staff").id
    return {
        "service_id": source.service_id,
        "staff_id": staff_id,
        "start": start,
        "end": end,
        "customer_name": source.customer_name,
        "customer_email": source.customer_email,
        "customer_phone": source.customer_phone,
        "customer_timezone": source.customer_timezone,
        "origin": source.origin,
        "notes": source.notes,
        "cloned_from_id": source.id,
        "status": initial_status(source.service.requires_approval),
        "manage_rules": _rules_of_clone(source),
    }

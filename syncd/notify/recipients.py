"""Who is told of a booking change, with which message.

The customer hears of every change to their booking's time, staff member or
status. Staff and the merchant get notices of new, rescheduled and cancelled
bookings, as their settings say; when the staff member changed, both the one
who had the booking and the one who has it now are told.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus
from syncd.notify.kinds import KINDS, MessageKind, NoticeEvent
from syncd.notify.models import Audience
from syncd.notify.preferences import merchant_settings, merchant_wants, staff_wants
from syncd.store.changes import BookingChange, ChangeKind
from syncd.store.models import Merchant, Staff

_NOTICES = {
    ChangeKind.CREATED: MessageKind.NEW_NOTICE,
    ChangeKind.RESCHEDULED: MessageKind.RESCHEDULE_NOTICE,
    ChangeKind.CANCELLED: MessageKind.CANCEL_NOTICE,
}


@dataclass(frozen=True)
class Addressee:
    kind: MessageKind
    audience: Audience
    address: str
    name: str
    timezone: str
    role: str | None = None  # for staff when the staff member changed: "previous" or "new"


def customer_message(change: BookingChange) -> MessageKind | None:
    """What the customer is sent for this change, if anything."""
    status = change.after.status
    if change.kind == ChangeKind.CREATED:
        return MessageKind.PENDING if status == BookingStatus.PENDING else MessageKind.CONFIRMATION
    if change.kind == ChangeKind.STATUS_CHANGED and not _moved(change):
        return MessageKind.PENDING if status == BookingStatus.PENDING else MessageKind.CONFIRMATION
    # a status change that came with a move is told by the reschedule message
    return {
        ChangeKind.RESCHEDULED: MessageKind.RESCHEDULED,
        ChangeKind.CANCELLED: MessageKind.CANCELLED,
    }.get(change.kind)


def _moved(change: BookingChange) -> bool:
    before, after = change.before, change.after
    if before is None:
        return False
    return (before.start, before.end, before.staff_id) != (after.start, after.end, after.staff_id)


def for_change(session: Session, change: BookingChange) -> list[Addressee]:
    told = _customer(change)
    notice = _NOTICES.get(change.kind)
    if notice is not None:
        told += _staff(session, change, notice) + _merchant(session, change, notice)
    return told


def _customer(change: BookingChange) -> list[Addressee]:
    booking, kind = change.booking, customer_message(change)
    if kind is None or not booking.customer_email:
        return []
    return [
        Addressee(
            kind,
            Audience.CUSTOMER,
            booking.customer_email,
            booking.customer_name,
            booking.customer_timezone,
        )
    ]


def _notice_event(kind: MessageKind) -> NoticeEvent:
    event = KINDS[kind].event
    assert event is not None  # every notice kind names its event
    return event


def _staff(session: Session, change: BookingChange, kind: MessageKind) -> list[Addressee]:
    before, after = change.before, change.after
    concerned: list[tuple[int, str | None]]
    if before is not None and before.staff_id != after.staff_id:
        concerned = [(before.staff_id, "previous"), (after.staff_id, "new")]
    else:
        concerned = [(after.staff_id, None)]
    event = _notice_event(kind)
    told = []
    for staff_id, role in concerned:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.email or not staff_wants(session, staff_id, event):
            continue
        told.append(
            Addressee(kind, Audience.STAFF, staff.email, staff.name, staff.timezone, role)
        )
    return told


def _merchant(session: Session, change: BookingChange, kind: MessageKind) -> list[Addressee]:
    merchant = session.get(Merchant, change.booking.merchant_id)
    settings = merchant_settings(session, change.booking.merchant_id)
    if merchant is None or not merchant_wants(settings, _notice_event(kind)):
        return []
    return [
        Addressee(kind, Audience.MERCHANT, address, merchant.name, merchant.timezone)
        for address in settings.addresses
    ]

"""What a message says about a booking, frozen into its outbox row when it is queued.

A message describes the booking as it was at its change, not as it is when
the sender gets to it: a confirmation sent late must not show a time that a
later reschedule set (that one has its own message), and a resend after a
crash must be the same message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from syncd.store.changes import Snapshot
from syncd.store.models import Base, Booking, Merchant, Service, Staff

_TIMES = ("start", "end", "previous_start", "previous_end")
R = TypeVar("R", bound=Base)


@dataclass(frozen=True)
class BookingFacts:
    merchant_key: str
    merchant_name: str
    contact_text: str
    booking_page_url: str | None
    reply_to: str | None
    booking_key: str
    uid: str  # the event's UID, as on the staff calendars
    sequence: int
    status: str
    start: datetime
    end: datetime
    service: str
    location: str
    staff: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    customer_timezone: str
    notes: str
    paid: bool
    previous_start: datetime | None = None
    previous_end: datetime | None = None
    previous_staff: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _FIELDS}
        for name in _TIMES:
            data[name] = data[name] and data[name].isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BookingFacts:
        values = dict(data)
        for name in _TIMES:
            values[name] = values.get(name) and datetime.fromisoformat(values[name])
        return cls(**values)


_FIELDS = tuple(field.name for field in dataclasses.fields(BookingFacts))


def booking_facts(
    session: Session,
    booking: Booking,
    *,
    reply_to: str | None,
    before: Snapshot | None = None,
) -> BookingFacts:
    # By id, not through the relationships: those still show the old rows
    # when this transaction changed the booking's staff member or service.
    merchant = _row(session, Merchant, booking.merchant_id)
    service = _row(session, Service, booking.service_id)
    staff = _row(session, Staff, booking.staff_id)
    return BookingFacts(
        merchant_key=merchant.key,
        merchant_name=merchant.name,
        contact_text=merchant.contact_text,
        booking_page_url=merchant.booking_page_url,
        reply_to=reply_to,
        booking_key=booking.key,
        uid=booking.uid,
        sequence=booking.sequence,
        status=booking.status,
        start=booking.start,
        end=booking.end,
        service=service.name,
        location=service.location,
        staff=staff.name,
        customer_name=booking.customer_name,
        customer_email=booking.customer_email,
        customer_phone=booking.customer_phone,
        customer_timezone=booking.customer_timezone,
        notes=booking.notes,
        paid=booking.paid,
        **_previous(session, booking, before),
    )


def _row(session: Session, model: type[R], row_id: int) -> R:
    row = session.get(model, row_id)
    assert row is not None  # rows a booking refers to are never deleted
    return row


def _previous(session: Session, booking: Booking, before: Snapshot | None) -> dict[str, Any]:
    if before is None or (before.start, before.end) == (booking.start, booking.end):
        moved: dict[str, Any] = {}
    else:
        moved = {"previous_start": before.start, "previous_end": before.end}
    if before is not None and before.staff_id != booking.staff_id:
        moved["previous_staff"] = _row(session, Staff, before.staff_id).name
    return moved

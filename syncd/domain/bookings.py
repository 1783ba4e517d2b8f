"""What a booking change means: status on creation, versions and event identity.

The rules read and change a booking through the protocols below, which the
store's row (syncd.store.models.Booking) satisfies; they know no ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from connectors.base import EventSpec, EventStatus

# Fixed namespace so a booking's event UID survives the loss of syncd's state.
_UID_NAMESPACE = uuid.UUID("6f1b8c2e-0d4a-5b7e-9c3f-2a6d8e4b1c90")

# Fields whose change moves or re-states the event, so calendar clients must
# see a higher SEQUENCE (RFC 5545 3.8.7.4).
SEQUENCE_FIELDS = ("start", "end", "staff_id", "status")


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class HasStatus(Protocol):
    @property
    def status(self) -> str: ...


class Versioned(Protocol):
    """A booking whose fields an update sets: its version and SEQUENCE count the changes."""

    version: int
    sequence: int


class ServiceFacts(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def location(self) -> str: ...


class StaffFacts(Protocol):
    @property
    def timezone(self) -> str: ...


class BookingFacts(HasStatus, Protocol):
    """What a booking's calendar event is made of."""

    @property
    def uid(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def sequence(self) -> int: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def customer_email(self) -> str | None: ...
    @property
    def customer_phone(self) -> str | None: ...
    @property
    def notes(self) -> str: ...
    @property
    def service(self) -> ServiceFacts: ...
    @property
    def staff(self) -> StaffFacts: ...


def event_uid(merchant_key: str, booking_key: str) -> str:
    return f"syncd-{uuid.uuid5(_UID_NAMESPACE, f'{merchant_key}/{booking_key}')}"


def initial_status(requires_approval: bool) -> BookingStatus:
    return BookingStatus.PENDING if requires_approval else BookingStatus.CONFIRMED


def is_live(booking: HasStatus) -> bool:
    return booking.status != BookingStatus.CANCELLED


@dataclass(frozen=True)
class Change:
    """Which of a booking's fields an update altered."""

    fields: frozenset[str]

    @property
    def any(self) -> bool:
        return bool(self.fields)

    @property
    def needs_new_sequence(self) -> bool:
        return not self.fields.isdisjoint(SEQUENCE_FIELDS)


def apply_changes(booking: Versioned, values: dict[str, object]) -> Change:
    """Set `values` on the booking and bump its version (and SEQUENCE) if anything changed."""
    changed = frozenset(k for k, v in values.items() if getattr(booking, k) != v)
    for name in changed:
        setattr(booking, name, values[name])
    change = Change(changed)
    if change.any:
        booking.version += 1
    if change.needs_new_sequence:
        booking.sequence += 1
    return change


def event_spec(booking: BookingFacts) -> EventSpec:
    """The calendar event a booking should appear as on its staff member's calendar."""
    service, staff = booking.service, booking.staff
    status = (
        EventStatus.TENTATIVE if booking.status == BookingStatus.PENDING else EventStatus.CONFIRMED
    )
    return EventSpec(
        booking_key=booking.uid,
        summary=f"{service.name}: {booking.customer_name}",
        start=booking.start,
        end=booking.end,
        timezone=staff.timezone,
        sequence=booking.sequence,
        status=status,
        description=_description(booking),
        location=service.location,
    )


def _description(booking: BookingFacts) -> str:
    lines = [
        f"Service: {booking.service.name}",
        f"Customer: {booking.customer_name}",
        f"Email: {booking.customer_email}" if booking.customer_email else "",
        f"Phone: {booking.customer_phone}" if booking.customer_phone else "",
        f"Status: {booking.status}",
        f"Notes: {booking.notes}" if booking.notes else "",
        f"Booking reference: {booking.key}",
    ]
    return "\n".join(line for line in lines if line)

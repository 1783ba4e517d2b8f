"""What happened to a booking, told to every listener inside the same transaction.

A listener (notifications, webhooks) queues its own work in the caller's
session, so the change and everything it causes commit or roll back together.
Which listeners there are is wired in by the process (syncd.store.session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from syncd.store.models import Booking


class ChangeKind(StrEnum):
    CREATED = "created"
    RESCHEDULED = "rescheduled"  # time or staff member changed
    CANCELLED = "cancelled"
    STATUS_CHANGED = "status_changed"  # e.g. approved, or back to pending
    DETAILS_CHANGED = "details_changed"  # notes, customer details: no new time


class Actor(StrEnum):
    """Who made the change: told to customers, staff and the platform."""

    MERCHANT = "merchant"  # the booking platform or an admin, through the API
    CUSTOMER = "customer"  # through the manage link
    STAFF = "staff"
    RECONCILIATION = "reconciliation"  # a calendar-wins rule
    IMPORT = "import"  # a back-fill from a file: its people were told when it was booked


@dataclass(frozen=True)
class Snapshot:
    """The parts of a booking a change is about, frozen at one moment."""

    start: datetime
    end: datetime
    staff_id: int
    status: str
    sequence: int

    @classmethod
    def of(cls, booking: Booking) -> Snapshot:
        return cls(booking.start, booking.end, booking.staff_id, booking.status, booking.sequence)


@dataclass(frozen=True)
class BookingChange:
    kind: ChangeKind
    booking: Booking
    actor: Actor
    before: Snapshot | None  # None when the booking was just created
    after: Snapshot


def kinds_between(before: Snapshot, after: Snapshot) -> list[ChangeKind]:
    """What an update amounts to, most significant first."""
    if after.status == "cancelled" and before.status != "cancelled":
        return [ChangeKind.CANCELLED]
    kinds = []
    if (before.start, before.end, before.staff_id) != (after.start, after.end, after.staff_id):
        kinds.append(ChangeKind.RESCHEDULED)
    if before.status != after.status:
        kinds.append(ChangeKind.STATUS_CHANGED)
    return kinds or [ChangeKind.DETAILS_CHANGED]

"""Rows about a booking in one of its calendars, read with the keys the API shows them by."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from syncd.store.models import Booking, CalendarBinding, Merchant, Staff

E = TypeVar("E")


def with_keys(
    entity: type[E], booking_id: InstrumentedAttribute[int], binding_id: InstrumentedAttribute[int]
) -> Select[E, str, str, str, str]:
    """`entity`'s rows, each with the keys of its merchant, booking, staff member and
    calendar, reached through the booking and the calendar binding the row names."""
    return (
        select(entity, Merchant.key, Booking.key, Staff.key, CalendarBinding.key)
        .join(Booking, Booking.id == booking_id)
        .join(Merchant, Merchant.id == Booking.merchant_id)
        .join(CalendarBinding, CalendarBinding.id == binding_id)
        .join(Staff, Staff.id == CalendarBinding.staff_id)
    )

"""A salon whose customers manage their bookings: built through the store functions the API uses.

Alice works in Berlin, Bob in New York; both deliver "cut" (30 minutes, 10 minutes'
buffer after); "color" needs the merchant's approval. NOW is Monday 2030-03-04
08:00 UTC; SOON, two days later, is Wednesday 10:00 in Berlin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.manage.tokens import issue_token
from syncd.notify.preferences import put_merchant_settings
from syncd.notify.schemas import MerchantNotificationsIn
from syncd.schemas import BindingIn, BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import (
    get_merchant,
    upsert_binding,
    upsert_merchant,
    upsert_service,
    upsert_staff,
)
from syncd.store.models import Booking, Mirror

MERCHANT = "salon"
OWNER = "owner@salon.example"
CONTACT = "Call us on 030 123456."
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
SOON = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)  # Wednesday 10:00 in Berlin
WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
STAFF_ZONES = {"alice": "Europe/Berlin", "bob": "America/New_York", "carol": "Europe/Berlin"}


def service_in(**changes: Any) -> ServiceIn:
    body: dict[str, Any] = {
        "name": "Haircut", "duration_minutes": 30, "buffer_after_minutes": 10,
        "location": "Main Street 1", "allow_change_staff": True, "staff": ["alice", "bob"],
        "slot_interval_minutes": 30, "manage_web_bookings": True,
    }
    return ServiceIn.model_validate(body | changes)


def seed(session: Session) -> None:
    salon, _ = upsert_merchant(session, MERCHANT, MerchantIn(
        name="Salon One", timezone="Europe/Berlin", contact_text=CONTACT,
        booking_page_url="https://salon.example/book",
    ))
    for key, zone in STAFF_ZONES.items():
        member, _ = upsert_staff(session, salon, key, StaffIn.model_validate({
            "name": key.title(), "email": f"{key}@salon.example", "timezone": zone,
            "working_hours": WEEKDAYS,
        }))
        binding = BindingIn(connector="local", calendar_id=f"{key}-work")
        upsert_binding(session, member, "work", binding, {"local"})
    upsert_service(session, salon, "cut", service_in())
    upsert_service(session, salon, "color", service_in(name="Colour", requires_approval=True))
    put_merchant_settings(session, salon, MerchantNotificationsIn(addresses=[OWNER]))


def booking_in(start: datetime = SOON, staff: str = "alice", **changes: Any) -> BookingIn:
    body: dict[str, Any] = {
        "service": "cut", "staff": staff, "start": start.isoformat(),
        "customer": {"name": "Jane", "email": "jane@example.com", "timezone": "Europe/Paris"},
    }
    return BookingIn.model_validate(body | changes)


def book(session: Session, key: str, start: datetime = SOON, staff: str = "alice",
         **changes: Any) -> tuple[Booking, str]:
    """The booking and a raw token of its manage link."""
    booking, _ = put_booking(
        session, get_merchant(session, MERCHANT), key, booking_in(start, staff, **changes)
    )
    return booking, issue_token(session, booking)


def at(hours: float, start: datetime = SOON) -> datetime:
    return start + timedelta(hours=hours)


def mirrors_of(session: Session, booking_id: int) -> list[Mirror]:
    return list(session.scalars(
        select(Mirror).where(Mirror.booking_id == booking_id).order_by(Mirror.binding_id)
    ))


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)

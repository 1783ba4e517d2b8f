"""A salon to send mail about: built through the store functions the API uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from syncd.notify.preferences import put_merchant_settings
from syncd.notify.schemas import MerchantNotificationsIn
from syncd.schemas import BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import cancel_booking, put_booking
from syncd.store.catalog import get_merchant, upsert_merchant, upsert_service, upsert_staff
from syncd.store.models import Booking

MERCHANT = "salon"
OWNER = "owner@salon.example"
CUSTOMER = "jane@example.com"
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # 10:00 in Paris and Berlin, 04:00 in New York


def seed(
    session: Session,
    *,
    reminders: tuple[int, ...] = (),
    follow_up: int | None = None,
    approval: bool = False,
) -> None:
    salon, _ = upsert_merchant(session, MERCHANT, MerchantIn(
        name="Salon One", timezone="Europe/Berlin", contact_text="Call us on 030 123456.",
        booking_page_url="https://salon.example/book",
    ))
    upsert_service(session, salon, "cut", ServiceIn(
        name="Haircut", duration_minutes=30, location="Main Street 1",
        reminder_minutes_before=list(reminders), follow_up_minutes_after=follow_up,
        requires_approval=approval,
    ))
    for key, zone in (("alice", "Europe/Berlin"), ("bob", "America/New_York")):
        upsert_staff(session, salon, key, StaffIn(
            name=key.title(), email=f"{key}@salon.example", timezone=zone
        ))
    put_merchant_settings(session, salon, MerchantNotificationsIn(addresses=[OWNER]))


def booking_in(start: datetime = START, staff: str = "alice", **changes: Any) -> BookingIn:
    customer = {"name": "Jane Customer", "email": CUSTOMER, "timezone": "Europe/Paris"}
    body: dict[str, Any] = {
        "service": "cut",
        "staff": staff,
        "start": start.isoformat(),
        "customer": customer | changes.pop("customer", {}),
    }
    return BookingIn.model_validate(body | changes)


def book(
    session: Session, key: str, start: datetime = START, staff: str = "alice", **changes: Any
) -> Booking:
    booking, _ = put_booking(
        session, get_merchant(session, MERCHANT), key, booking_in(start, staff, **changes)
    )
    return booking


def cancel(session: Session, key: str) -> Booking:
    return cancel_booking(session, get_merchant(session, MERCHANT), key)


def later(hours: float) -> datetime:
    return START + timedelta(hours=hours)

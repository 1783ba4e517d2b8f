"""Building a store's contents through the same functions the API uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.schemas import BindingIn, BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import cancel_booking, put_booking
from syncd.store.catalog import get_merchant, upsert_binding, upsert_merchant, upsert_service
from syncd.store.catalog import upsert_staff as _upsert_staff
from syncd.store.models import Booking, CalendarBinding, Merchant

BASE_TIME = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def merchant(session: Session, key: str = "acme") -> Merchant:
    found, _ = upsert_merchant(session, key, MerchantIn(name="Acme", timezone="Europe/Berlin"))
    return found


def service(session: Session, shop: Merchant, key: str = "cut", *, approval: bool = False) -> None:
    upsert_service(
        session,
        shop,
        key,
        ServiceIn(name="Haircut", duration_minutes=30, requires_approval=approval),
    )


def staff_with_calendar(
    session: Session, shop: Merchant, key: str, calendar_id: str, connector: str = "local"
) -> None:
    member, _ = _upsert_staff(
        session, shop, key, StaffIn(name=key.title(), timezone="Europe/Berlin")
    )
    binding = BindingIn(connector=connector, calendar_id=calendar_id)
    upsert_binding(session, member, f"{key}-cal", binding, {connector})


def booking_body(staff: str, start: datetime, *, name: str = "Customer") -> BookingIn:
    return BookingIn.model_validate(
        {
            "service": "cut",
            "staff": staff,
            "start": start.isoformat(),
            "customer": {"name": name, "email": "c@example.org", "timezone": "Europe/Paris"},
        }
    )


def book(session: Session, key: str, staff: str, start: datetime) -> Booking:
    shop = get_merchant(session, "acme")
    found, _ = put_booking(session, shop, key, booking_body(staff, start))
    return found


def cancel(session: Session, key: str) -> Booking:
    return cancel_booking(session, get_merchant(session, "acme"), key)


def slot(index: int) -> datetime:
    """Distinct half-hour slots from BASE_TIME on."""
    return BASE_TIME + timedelta(minutes=30 * index)


def alice_and_bob(session: Session, bookings: int) -> dict[str, int]:
    """A shop whose `bookings` alternate between alice's and bob's calendars ("/alice/",
    "/bob/"); their binding ids by name."""
    shop = merchant(session)
    service(session, shop)
    staff_with_calendar(session, shop, "alice", "/alice/")
    staff_with_calendar(session, shop, "bob", "/bob/")
    for i in range(bookings):
        book(session, f"b{i}", "alice" if i % 2 else "bob", slot(i))
    rows = session.execute(select(CalendarBinding.calendar_id, CalendarBinding.id))
    return {calendar.strip("/"): binding_id for calendar, binding_id in rows}

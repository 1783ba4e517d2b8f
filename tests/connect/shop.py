"""A shop for the connect tests: Salon One, alice and bob, a service, bookings with alice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.runtime import Runtime
from syncd.schemas import BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import upsert_merchant, upsert_service, upsert_staff
from syncd.store.connect_tokens import issue_connect_token
from syncd.store.models import Staff

EVERY_DAY = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def seed(runtime: Runtime, bookings: int = 2) -> None:
    with runtime.sessions.begin() as session:
        shop, _ = upsert_merchant(session, "m1", MerchantIn.model_validate(
            {"name": "Salon One", "timezone": "Europe/Berlin"}))
        for key in ("alice", "bob"):
            upsert_staff(session, shop, key, StaffIn.model_validate(
                {"name": key.title(), "timezone": "Europe/Berlin", "working_hours": EVERY_DAY,
                 "email": f"{key}@salon.example"}))
        upsert_service(session, shop, "cut", ServiceIn.model_validate(
            {"name": "Haircut", "duration_minutes": 30, "staff": ["alice", "bob"]}))
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0,
                                                               microsecond=0)
        for number in range(bookings):
            put_booking(session, shop, f"b{number}", BookingIn.model_validate({
                "service": "cut", "staff": "alice",
                "start": (start + timedelta(hours=number)).isoformat(),
                "customer": {"name": "Ada", "email": "ada@example.org",
                             "timezone": "Europe/Berlin"}}))


def link_for(runtime: Runtime, staff_key: str = "alice", days_ago: float = 0) -> str:
    """A new link for the staff member, working for 7 days from `days_ago` days ago."""
    with runtime.sessions.begin() as session:
        staff = session.query(Staff).filter_by(key=staff_key).one()
        issued = datetime.now(UTC) - timedelta(days=days_ago)
        token, _ = issue_connect_token(session, staff, issued, 7)
        return token

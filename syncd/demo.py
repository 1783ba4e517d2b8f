"""A demonstration merchant for `make run`: two staff calendars and a few bookings."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.caldav import CalDAVConnector
from syncd.config.stored_accounts import identity_of
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import (
    find_in_merchant,
    upsert_binding,
    upsert_merchant,
    upsert_service,
    upsert_staff,
)
from syncd.store.models import Booking
from syncd.timeutil import utcnow

MERCHANT = "demo"
STAFF = {"alice": "Alice Example", "bob": "Bob Example"}
TIMEZONE = "Europe/Berlin"
HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# customers may cancel, reschedule and switch between Alice and Bob up to 2 hours ahead
CONSULTATION = ServiceIn(
    name="Consultation",
    duration_minutes=45,
    buffer_after_minutes=15,
    manage_web_bookings=True,
    manage_staff_bookings=True,
    allow_change_staff=True,
    manage_cutoff_hours=2,
    slot_interval_minutes=15,
    staff=list(STAFF),
)


def calendar_path(username: str, staff: str) -> str:
    return f"/{username}/{staff}/"


async def make_calendars(connector: CalDAVConnector, username: str) -> None:
    for staff, name in STAFF.items():
        await connector.make_calendar(calendar_path(username, staff), f"{name} (syncd demo)")


def seed(runtime: Runtime, connector_name: str, username: str) -> None:
    """Idempotent: a second `make run` finds everything in place."""
    table = runtime.settings.connectors[connector_name]
    with runtime.sessions.begin() as session:
        merchant, _ = upsert_merchant(
            session, MERCHANT, MerchantIn(
                name="Demo Salon", timezone=TIMEZONE,
                contact_text="To change this booking, call Demo Salon on +49 30 1234567.",
            )
        )
        for key, name in STAFF.items():
            member, _ = upsert_staff(
                session,
                merchant,
                key,
                StaffIn.model_validate(
                    {"name": name, "timezone": TIMEZONE, "working_hours": HOURS}
                ),
            )
            calendar_id = calendar_path(username, key)
            binding = BindingIn(connector=connector_name, calendar_id=calendar_id)
            identity = identity_of(table, calendar_id, runtime.settings.connectors, stored=False)
            upsert_binding(session, member, "work", binding, {connector_name}, identity=identity)
        upsert_service(session, merchant, "consultation", CONSULTATION)
        for index, start in enumerate(_demo_times()):
            staff = list(STAFF)[index % len(STAFF)]
            key = f"demo-{index + 1}"
            if find_in_merchant(session, Booking, merchant, key) is None:
                put_booking(session, merchant, key, _booking(staff, start))


def _demo_times() -> list[datetime]:
    tomorrow = (utcnow().astimezone(ZoneInfo(TIMEZONE)) + timedelta(days=1)).date()
    zone = ZoneInfo(TIMEZONE)
    return [
        datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, tzinfo=zone)
        for hour in (10, 11, 14)
    ]


def _booking(staff: str, start: datetime) -> BookingIn:
    return BookingIn.model_validate(
        {
            "service": "consultation",
            "staff": staff,
            "start": start.isoformat(),
            "customer": {
                "name": "Demo Customer",
                "email": "customer@example.org",
                "timezone": TIMEZONE,
            },
        }
    )


async def prepare(
    runtime: Runtime, connector: CalDAVConnector, connector_name: str, username: str
) -> None:
    try:
        await make_calendars(connector, username)
    finally:
        await connector.aclose()
    seed(runtime, connector_name, username)


def print_instructions(
    api_url: str, key_file: str, caldav_url: str, username: str, password_file: str
) -> None:
    auth = f'-H "Authorization: Bearer $(cat {key_file})"'
    base = f"{api_url}/api/v1/merchants/{MERCHANT}"
    print(
        INSTRUCTIONS.format(
            caldav=caldav_url,
            user=username,
            password_file=password_file,
            auth=auth,
            base=base,
            api=api_url,
            alice=calendar_path(username, "alice"),
            bob=calendar_path(username, "bob"),
        ),
        flush=True,
    )


INSTRUCTIONS = """
syncd is running with the demo merchant "{MERCHANT}".

Staff calendars (a local Radicale; user {user}, password in {password_file}):
  web UI:  {caldav}.web/
  Alice:   {caldav}{alice}
  Bob:     {caldav}{bob}

Create a booking (it appears on Alice's calendar within a second):
  curl -X PUT {auth} -H 'Content-Type: application/json' \\
    {base}/bookings/my-first \\
    -d '{{"service": "consultation", "staff": "alice", "start": "2030-01-07T10:00:00+01:00",
         "customer": {{"name": "Ada", "email": "ada@example.org", "timezone": "Europe/Berlin"}}}}'

Reschedule it and move it to Bob (the event moves to Bob's calendar):
  curl -X PUT {auth} -H 'Content-Type: application/json' \\
    {base}/bookings/my-first \\
    -d '{{"service": "consultation", "staff": "bob", "start": "2030-01-07T15:00:00+01:00",
         "customer": {{"name": "Ada", "email": "ada@example.org", "timezone": "Europe/Berlin"}}}}'

Cancel it (the event vanishes):
  curl -X POST {auth} {base}/bookings/my-first/cancel

Every confirmation and notice is written as an .eml file under var/mail/
(open one in any mail client; its invitation updates the same calendar event).
A customer's confirmation carries a "Manage your booking" link ({api}/manage/...):
open it to reschedule, move to the other staff member, or cancel.

See the booking and the state of its calendar events:
  curl {auth} {base}/bookings/my-first

Stop everything with Ctrl-C.
""".replace("{MERCHANT}", MERCHANT)

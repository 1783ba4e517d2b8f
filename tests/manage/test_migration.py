"""Revision 0006_manage: exactly what the models describe; existing rows stay closed to
customers where the setting did not exist."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from syncd.domain.manage_rules import ManageRules
from syncd.store.models import Booking, Service
from syncd.store.schema import upgrade
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip, migrated_engine

__all__ = ["empty_database_url"]

TABLES = {"service_staff", "manage_tokens", "busy_cache"}
COLUMNS = {
    "services": {"manage_web_bookings", "manage_staff_bookings", "allow_cancel",
                 "allow_reschedule", "allow_change_staff", "manage_cutoff_hours",
                 "slot_interval_minutes", "min_lead_minutes", "max_advance_days"},
    "bookings": {"manage_rules"},
}


def test_upgrade_matches_the_models_and_downgrade_removes_it(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0006_manage", TABLES, COLUMNS)


_ROWS = [
    "INSERT INTO merchants (id, key, name, timezone, contact_text) VALUES (1, 'm', 'M', 'UTC', '')",
    "INSERT INTO services (id, merchant_id, key, name, duration_minutes, buffer_before_minutes,"
    " buffer_after_minutes, requires_approval, location, reminder_minutes_before)"
    " VALUES (1, 1, 's', 'S', 30, 0, 0, false, '', '[]')",
    "INSERT INTO staff (id, merchant_id, key, name, timezone, working_hours)"
    " VALUES (1, 1, 'a', 'A', 'UTC', '{}')",
]


def _booking_row(number: int, origin: str) -> str:
    return (
        'INSERT INTO bookings (id, merchant_id, key, origin, service_id, staff_id, start, "end",'
        " customer_timezone, customer_name, notes, paid, status, version, sequence, uid,"
        f" created_at, updated_at) VALUES ({number}, 1, 'b{number}', '{origin}', 1, 1,"
        " '2030-01-01 10:00:00+00:00', '2030-01-01 10:30:00+00:00', 'UTC', 'C', '', false,"
        f" 'confirmed', 1, 0, 'u{number}', '2029-01-01 00:00:00+00:00',"
        " '2029-01-01 00:00:00+00:00')"
    )


def test_existing_services_keep_staff_made_bookings_closed(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0004") as engine:
        with engine.begin() as connection:
            for statement in [*_ROWS, _booking_row(1, "web"), _booking_row(2, "staff")]:
                connection.execute(text(statement))
        upgrade(engine)
        with Session(engine) as session:
            service = session.get_one(Service, 1)
            assert service.manage_staff_bookings is False
            assert (service.manage_web_bookings, service.allow_cancel, service.allow_reschedule,
                    service.allow_change_staff) == (True, True, True, False)
            web = ManageRules.from_json(session.get_one(Booking, 1).manage_rules)
            staff = ManageRules.from_json(session.get_one(Booking, 2).manage_rules)
            assert web.enabled
            assert web.cancel
            assert web.cutoff_hours == 24
            assert not staff.enabled

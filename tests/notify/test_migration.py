"""Revision 0002 creates exactly what the models describe, and takes it away again."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from syncd.notify import models
from syncd.store.models import Service
from syncd.store.schema import upgrade
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip, migrated_engine

__all__ = ["empty_database_url"]

TABLES = {
    models.OutboxMessage.__tablename__,
    models.Reminder.__tablename__,
    models.MerchantNotificationSettings.__tablename__,
    models.StaffNotificationSettings.__tablename__,
}
COLUMNS = {
    "services": {"reminder_minutes_before", "follow_up_minutes_after"},
    "bookings": {"paid"},
}


def test_upgrade_matches_the_models_and_downgrade_removes_it(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0002", TABLES, COLUMNS)


def test_existing_rows_get_the_new_columns_defaults(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0001") as engine:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO merchants (id, key, name, timezone, contact_text)"
                " VALUES (1, 'm', 'M', 'UTC', '')"
            ))
            connection.execute(text(
                "INSERT INTO services (id, merchant_id, key, name, duration_minutes,"
                " buffer_before_minutes, buffer_after_minutes, requires_approval, location)"
                " VALUES (1, 1, 's', 'S', 30, 0, 0, false, '')"
            ))
        upgrade(engine)
        with Session(engine) as session:
            service = session.get(Service, 1)
            assert service is not None
            assert (service.reminder_minutes_before, service.follow_up_minutes_after) == ([], None)

"""Revision 0007_reconcile creates exactly what the models describe, and takes it away again."""

from __future__ import annotations

from sqlalchemy import text

from syncd.reconcile import models
from syncd.store.schema import upgrade
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip, migrated_engine

__all__ = ["empty_database_url"]

TABLES = {
    models.ReconcileState.__tablename__,
    models.SeenEvent.__tablename__,
    models.ObservedBusy.__tablename__,
    models.CalendarConflict.__tablename__,
}
COLUMNS = {"merchants": {"reconcile_rule"}, "services": {"reconcile_rule"}}


def test_upgrade_matches_the_models_and_downgrade_removes_it(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0007_reconcile", TABLES, COLUMNS)


def test_existing_merchants_get_booking_wins(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0004") as engine:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO merchants (id, key, name, timezone, contact_text)"
                " VALUES (1, 'm', 'M', 'UTC', '')"
            ))
        upgrade(engine)
        with engine.connect() as connection:
            rule = connection.execute(text("SELECT reconcile_rule FROM merchants")).scalar_one()
        assert rule == "booking_wins"


def test_events_seen_before_their_keys_were_kept_are_read_again(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0011_manage_indexes") as engine:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO merchants (id, key, name, timezone, contact_text)"
                " VALUES (1, 'm', 'M', 'UTC', '')"))
            connection.execute(text(
                "INSERT INTO staff (id, merchant_id, key, name, timezone, working_hours)"
                " VALUES (1, 1, 's', 'S', 'UTC', '{}')"))
            connection.execute(text(
                "INSERT INTO calendar_bindings (id, staff_id, key, connector, calendar_id, active,"
                " consecutive_failures, state) VALUES (1, 1, 'b', 'cal', '/c/', true, 0, 'idle')"))
            connection.execute(text(
                "INSERT INTO reconcile_states (binding_id, cursor, next_pass_at, failures, passes)"
                " VALUES (1, 'token', '2026-01-01 00:00:00', 0, 1)"))
            connection.execute(text(
                "INSERT INTO seen_events (id, binding_id, remote_id, etag, busy, recurring)"
                " VALUES (1, 1, '/c/x.ics', '\"1\"', true, false)"))
        upgrade(engine)
        with engine.connect() as connection:
            cursor = connection.execute(text("SELECT cursor FROM reconcile_states")).scalar_one()
            etag = connection.execute(text("SELECT etag FROM seen_events")).scalar_one()
        assert (cursor, etag) == (None, None)

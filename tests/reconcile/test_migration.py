"""Revision 0007_reconcile creates exactly what the models describe, and takes it away again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from syncd.reconcile import models
from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import alembic_config, upgrade
from tests.dbs import database_url

__all__ = ["database_url"]

TABLES = {
    models.ReconcileState.__tablename__,
    models.SeenEvent.__tablename__,
    models.ObservedBusy.__tablename__,
    models.CalendarConflict.__tablename__,
}
COLUMNS = {"merchants": {"reconcile_rule"}, "services": {"reconcile_rule"}}


def _ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    table = item if kind == "table" else getattr(item, "table", None)
    if getattr(table, "name", None) in TABLES:
        return True
    return kind == "column" and name in COLUMNS.get(getattr(table, "name", ""), set())


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": _ours}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, Base.metadata))


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def test_upgrade_matches_the_models_and_downgrade_removes_it(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert _differences(engine) == []
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0007_reconcile-1")
        assert not TABLES & set(inspect(engine).get_table_names())
        for table, added in COLUMNS.items():
            assert not added & _columns(engine, table)
        upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_existing_merchants_get_booking_wins(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0004")
            connection.execute(text(
                "INSERT INTO merchants (id, key, name, timezone, contact_text)"
                " VALUES (1, 'm', 'M', 'UTC', '')"
            ))
        upgrade(engine)
        with engine.connect() as connection:
            rule = connection.execute(text("SELECT reconcile_rule FROM merchants")).scalar_one()
        assert rule == "booking_wins"
    finally:
        engine.dispose()


def test_events_seen_before_their_keys_were_kept_are_read_again(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0011_manage_indexes")
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
    finally:
        engine.dispose()

"""Revision 0002 creates exactly what the models describe, and takes it away again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from syncd.notify import models
from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import alembic_config, upgrade

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


def _ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    table = item if kind == "table" else getattr(item, "table", None)
    return getattr(table, "name", None) in TABLES | set(COLUMNS)


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
            command.downgrade(alembic_config(connection), "0002-1")
        assert not TABLES & set(inspect(engine).get_table_names())
        for table, added in COLUMNS.items():
            assert not added & _columns(engine, table)
        upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_existing_rows_get_the_new_columns_defaults(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from syncd.store.models import Service

    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
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
    finally:
        engine.dispose()

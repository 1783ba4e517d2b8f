"""Revision 0017_ratings (ratings): it matches the models, leaves every stored service setting as
it was, and goes away cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

import syncd.manage.rating_models  # noqa: F401 - the tables this revision adds
from syncd.store.db import create_db_engine
from syncd.store.models import Base, Service
from syncd.store.schema import alembic_config, upgrade
from tests.manage.test_migration import _ROWS

TABLES = {"rating_tokens", "booking_ratings"}
COLUMN = "rating_request_minutes_after"


def _ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    table = item if kind == "table" else getattr(item, "table", None)
    return getattr(table, "name", None) in TABLES | {"services"}


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": _ours}
        context = MigrationContext.configure(connection, opts=options)
        found = compare_metadata(context, Base.metadata)
    return [d for d in found if any(name in repr(d) for name in (*TABLES, COLUMN))]


def test_the_revision_matches_the_models_and_keeps_stored_settings(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0011_manage_indexes")
        with engine.begin() as connection:
            for statement in _ROWS:
                connection.execute(text(statement))
            connection.execute(text(
                "UPDATE services SET manage_web_bookings = true, manage_cutoff_hours = 6"))
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert _differences(engine) == []
        with Session(engine) as session:
            service = session.get_one(Service, 1)
            assert (service.manage_web_bookings, service.manage_cutoff_hours) == (True, 6)
            assert service.rating_request_minutes_after is None
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0011_manage_indexes")
        assert not TABLES & set(inspect(engine).get_table_names())
        columns = {c["name"] for c in inspect(engine).get_columns("services")}
        assert COLUMN not in columns
    finally:
        engine.dispose()

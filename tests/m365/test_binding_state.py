"""Migration 0005_binding_state: bindings get a state, old pauses keep their meaning."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import alembic_config, upgrade
from tests.dbs import empty_database_url

__all__ = ["empty_database_url"]

_BINDINGS = [  # key, paused_until, last_error -> state after the migration
    ("fine", None, None, "ok"),
    ("refused", "2030-01-01 00:00:00", "AuthError: token request refused", "auth_error"),
    ("down", "2030-01-01 00:00:00", "TransientError: HTTP 503", "paused"),
]


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    flat = [op for diff in found for op in (diff if isinstance(diff, list) else [diff])]
    return [op for op in flat if _table_of(op) == "calendar_bindings"]


def _table_of(op: tuple[Any, ...]) -> str | None:
    """The table an autogenerate difference is about (other helpers' tables are theirs)."""
    if op[0] in {"add_table", "remove_table"}:
        return str(op[1].name)
    if op[0] in {"add_index", "remove_index", "add_constraint", "remove_constraint"}:
        return str(op[1].table.name)
    return str(op[2])  # add_column, remove_column, modify_*: (kind, schema, table, ...)


def _seed(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO merchants (id, key, name, timezone, contact_text) "
            "VALUES (1, 'acme', 'Acme', 'UTC', '')"))
        connection.execute(text(
            "INSERT INTO staff (id, merchant_id, key, name, timezone, working_hours) "
            "VALUES (1, 1, 'anna', 'Anna', 'UTC', '{}')"))
        for number, (key, paused, error, _) in enumerate(_BINDINGS):
            connection.execute(
                text(
                    "INSERT INTO calendar_bindings (id, staff_id, key, connector, calendar_id,"
                    " active, paused_until, consecutive_failures, last_error)"
                    " VALUES (:id, 1, :key, 'graph', :key, true, :paused, 1, :error)"
                ),
                {"id": number + 1, "key": key, "paused": paused, "error": error},
            )


def test_bindings_get_a_state_that_matches_the_models(empty_database_url: str) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        upgrade(engine, "0004")
        _seed(engine)
        upgrade(engine, "0005_binding_state")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT key, state FROM calendar_bindings"))
            states = {row[0]: row[1] for row in rows}
        assert states == {key: state for key, _, _, state in _BINDINGS}
        upgrade(engine)
        assert _differences(engine) == []
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0005_binding_state")  # undo the merge
            command.downgrade(alembic_config(connection), "0005_binding_state@-1")
        columns = {c["name"] for c in inspect(engine).get_columns("calendar_bindings")}
        assert "state" not in columns
    finally:
        engine.dispose()

"""Migration 0005_binding_state: bindings get a state, old pauses keep their meaning."""

from __future__ import annotations

from sqlalchemy import Engine, text

from syncd.store.schema import upgrade
from tests.dbs import empty_database_url
from tests.migrations import column_names, downgrade_to, migrated_engine, model_differences

__all__ = ["empty_database_url"]

_BINDINGS = [  # key, paused_until, last_error -> state after the migration
    ("fine", None, None, "ok"),
    ("refused", "2030-01-01 00:00:00", "AuthError: token request refused", "auth_error"),
    ("down", "2030-01-01 00:00:00", "TransientError: HTTP 503", "paused"),
]


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
    with migrated_engine(empty_database_url) as engine:
        upgrade(engine, "0004")
        _seed(engine)
        upgrade(engine, "0005_binding_state")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT key, state FROM calendar_bindings"))
            states = {row[0]: row[1] for row in rows}
        assert states == {key: state for key, _, _, state in _BINDINGS}
        upgrade(engine)
        assert model_differences(engine, {"calendar_bindings"}) == []
        downgrade_to(engine, "0005_binding_state")  # undo the merge
        downgrade_to(engine, "0005_binding_state@-1")
        assert "state" not in column_names(engine, "calendar_bindings")

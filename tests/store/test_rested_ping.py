"""A pooled PostgreSQL connection is pinged before use only after resting: one the server
dropped meanwhile is replaced, and one checked in a moment ago costs no round trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from syncd.store import rested_ping
from syncd.store.db import create_db_engine
from tests.dbs import postgres_schema_url


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_schema_url() as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The connections the dialect was asked to ping, in order."""
    asked: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        asked.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return asked


def backend_pid(engine: Engine) -> int:
    with engine.begin() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: Engine, pings: list[object]
) -> None:
    first = backend_pid(engine)
    pinged_before = len(pings)
    for _ in range(5):
        assert backend_pid(engine) == first
    assert len(pings) == pinged_before


def test_a_rested_connection_is_pinged(
    engine: Engine, pings: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_pid(engine)
    monkeypatch.setattr(rested_ping, "PING_AFTER_SECONDS", 0.0)
    pinged_before = len(pings)
    backend_pid(engine)
    assert len(pings) == pinged_before + 1


def test_a_connection_the_server_dropped_while_resting_is_replaced(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = backend_pid(engine)
    admin = create_db_engine(engine.url.render_as_string(hide_password=False))
    with admin.begin() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    admin.dispose()
    monkeypatch.setattr(rested_ping, "PING_AFTER_SECONDS", 0.0)  # as if it had rested long
    assert backend_pid(engine) != dropped

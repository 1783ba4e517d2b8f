"""/readyz: 200 when the database answers, its schema is current and the worker loop goes
round; otherwise 503 naming the failing check."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.api import create_app
from syncd.ops.health import Heartbeat, Readiness
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.clocks import SteppedClock
from tests.dbs import empty_database_url
from tests.ops.conftest import settings_for
from tests.servers import free_port

__all__ = ["empty_database_url"]


@pytest.fixture
def fresh(empty_database_url: str) -> Iterator[Runtime]:
    """A runtime on an empty database of each backend; the test migrates it."""
    runtime = build_runtime(settings_for(empty_database_url))
    yield runtime
    runtime.close()


def readyz(runtime: Runtime, readiness: Readiness | None = None) -> tuple[int, dict[str, object]]:
    with ApiClient(create_app(runtime, readiness=readiness)) as client:
        response = client.get("/readyz")
    return response.status_code, response.json()


def test_ready_when_the_database_answers_and_is_current(fresh: Runtime) -> None:
    upgrade(fresh.engine)
    status, body = readyz(fresh)
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "migrations"}  # type: ignore[arg-type]


def test_not_ready_while_migrations_are_behind(fresh: Runtime) -> None:
    upgrade(fresh.engine, "0004")
    status, body = readyz(fresh)
    assert status == 503
    assert body["failing"] == ["migrations"]
    migrations = body["checks"]["migrations"]  # type: ignore[index]
    assert migrations["current"] == ["0004"]
    assert "syncd db upgrade" in migrations["error"]
    upgrade(fresh.engine)
    assert readyz(fresh)[0] == 200


def test_not_ready_when_the_database_is_down(tmp_path: Path) -> None:
    url = f"postgresql://syncd:hunter2-secret@127.0.0.1:{free_port()}/syncd"
    runtime = build_runtime(settings_for(url))
    try:
        with ApiClient(create_app(runtime)) as client:
            response = client.get("/readyz")
    finally:
        runtime.close()
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "cannot query it" in response.json()["checks"]["database"]["error"]
    assert "hunter2" not in response.text


def test_not_ready_until_the_worker_goes_round_and_while_it_is_stuck(
    runtime: Runtime,
) -> None:
    clock = SteppedClock()
    heartbeat = Heartbeat(clock)
    readiness = Readiness(runtime.engine, heartbeat, worker_stale_after_seconds=2.0)
    with ApiClient(create_app(runtime, readiness=readiness)) as client:
        first = client.get("/readyz")
        assert (first.status_code, first.json()["failing"]) == (503, ["worker"])
        assert "not started" in first.json()["checks"]["worker"]["error"]
        heartbeat.beat()
        assert client.get("/readyz").status_code == 200
        clock.advance(2.1)
        stale = client.get("/readyz")
    assert (stale.status_code, stale.json()["failing"]) == (503, ["worker"])
    assert "has not gone round" in stale.json()["checks"]["worker"]["error"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung database)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_hung_database_costs_a_probe_its_timeout_and_holds_one_thread(
    silent_server: int,
) -> None:
    url = f"postgresql://syncd@127.0.0.1:{silent_server}/syncd"
    runtime = build_runtime(settings_for(url))
    readiness = Readiness(runtime.engine, timeout_seconds=0.5)
    try:
        started = time.monotonic()
        first = readiness.report()
        assert time.monotonic() - started < 2
        assert first.failing == ["database"]
        assert "no answer within 0.5s" in first.checks["database"]["error"]
        second = readiness.report()
        assert "still waiting" in second.checks["database"]["error"]
    finally:
        runtime.close()

"""An API on a fresh, migrated database (SQLite and PostgreSQL), seeded with one shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.api import create_app
from syncd.config import Settings, load_config
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH, MAX_BODY_BYTES, MERCHANT
from tests.dbs import database_url

__all__ = ["database_url"]


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    return load_config(None, environ={
        "SYNCD_DATABASE__URL": database_url,
        "SYNCD_API__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "SYNCD_CONNECTORS__LOCAL__KIND": "memory",
    })


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[ApiClient]:
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        yield client


def _put(client: ApiClient, path: str, body: dict[str, object]) -> None:
    response = client.put(MERCHANT + path, json=body)
    assert response.status_code == 201, response.text


@pytest.fixture
def shop(client: ApiClient) -> ApiClient:
    """Merchant m1: services cut (30 min) and color (needs approval); staff alice
    (calendars work and home) and bob (calendar work)."""
    _put(client, "", {"name": "Salon One", "timezone": "Europe/Berlin"})
    _put(client, "/services/cut", {"name": "Haircut", "duration_minutes": 30})
    _put(client, "/services/color", {
        "name": "Colour", "duration_minutes": 90, "requires_approval": True,
    })
    for staff in ("alice", "bob"):
        _put(client, f"/staff/{staff}", {"name": staff.title(), "timezone": "Europe/Berlin"})
    for staff, calendar in (("alice", "work"), ("alice", "home"), ("bob", "work")):
        _put(client, f"/staff/{staff}/calendars/{calendar}",
             {"connector": "local", "calendar_id": f"{staff}-{calendar}"})
    return client

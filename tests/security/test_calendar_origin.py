"""A binding's calendar id stays inside its CalDAV account: the API refuses ids on other
hosts or above the account's root (422), `syncd check --online` names stored ones, and
the connector never sends a request, its password or a booking to another host."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from connectors import build_connector
from connectors.base import EventSpec
from syncd.api import create_app
from syncd.cli import main
from syncd.config import Settings, load_config
from syncd.errors import PermanentError
from syncd.store.models import CalendarBinding, Merchant, Staff
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH, MERCHANT
from tests.dbs import database_url
from tests.security.listener import RecordingServer
from tests.servers import RadicaleServer

__all__ = ["database_url"]


@pytest.fixture
def thief() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _settings(database_url: str, own_radicale: RadicaleServer) -> Settings:
    table = own_radicale.connector_settings()
    environ = {"SYNCD_DATABASE__URL": database_url, "SYNCD_CONNECTORS__DAV__KIND": "caldav",
               "SYNCD_CONNECTORS__DAV__URL": table["url"],
               "SYNCD_CONNECTORS__DAV__USERNAME": table["username"],
               "SYNCD_CONNECTORS__DAV__PASSWORD_FILE": table["password_file"]}
    return load_config(None, environ=environ)


@pytest.fixture
def client(
    database_url: str, own_radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ApiClient]:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    runtime = build_runtime(_settings(database_url, own_radicale))
    upgrade(runtime.engine)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        client.put(MERCHANT, json={"name": "Salon", "timezone": "Europe/Berlin"})
        client.put(f"{MERCHANT}/staff/alice", json={"name": "Alice", "timezone": "UTC"})
        yield client
    asyncio.run(runtime.aclose_connectors())
    runtime.close()


def _bind(client: ApiClient, key: str, calendar_id: str) -> int:
    response = client.put(f"{MERCHANT}/staff/alice/calendars/{key}",
                          json={"connector": "dav", "calendar_id": calendar_id})
    return response.status_code


def test_the_api_refuses_calendar_ids_outside_the_account(
    client: ApiClient, own_radicale: RadicaleServer, thief: RecordingServer
) -> None:
    port = thief.url.rsplit(":", 1)[1]
    outside = [f"{thief.url}/steal/", f"//127.0.0.1:{port}/steal/", f"HTTP://127.0.0.1:{port}/x/",
               f"http://alice:pw@{own_radicale.url.removeprefix('http://')}/alice/x/",
               "/alice/../../etc/", "/%2e%2e/etc/", "/alice/%2E%2E/%2e%2e/x/", "/"]
    for number, calendar_id in enumerate(outside):
        assert _bind(client, f"bad{number}", calendar_id) == 422, calendar_id
    assert _bind(client, "work", own_radicale.create_collection("work")) == 201
    assert _bind(client, "full", f"{own_radicale.url}/alice/full/") == 201
    assert thief.requests == []


def _event() -> EventSpec:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return EventSpec("b1", "Cut: Jane Customer", start, start + timedelta(minutes=30), "UTC", 0)


def test_a_stored_foreign_calendar_id_is_never_reached(
    own_radicale: RadicaleServer, thief: RecordingServer
) -> None:
    connector = build_connector(own_radicale.connector_settings())

    async def write_to(calendar_id: str) -> None:
        with pytest.raises(PermanentError):
            await connector.calendar(calendar_id).create(_event())

    async def scenario() -> None:
        await write_to(f"{thief.url}/steal/")
        await write_to(f"//{thief.url.removeprefix('http://')}/steal/")
        await connector.aclose()

    asyncio.run(scenario())
    assert thief.requests == []


def test_credentials_do_not_follow_a_redirect(own_radicale: RadicaleServer, thief: RecordingServer,
                                              tmp_path: Path) -> None:
    with RecordingServer(redirect_to=thief.url) as redirecting:
        table = own_radicale.connector_settings(url=redirecting.url)
        connector = build_connector(table)

        async def scenario() -> None:
            with pytest.raises(PermanentError):
                await connector.calendar("/alice/work/").create(_event())
            await connector.aclose()

        asyncio.run(scenario())
        assert [method for method, _, _ in redirecting.requests] == ["PUT"]
    assert thief.requests == []


def test_check_names_a_stored_binding_on_another_host(
    tmp_path: Path, own_radicale: RadicaleServer, thief: RecordingServer,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    database = tmp_path / "s.db"
    config = tmp_path / "syncd.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n[api]\nkey_env = "SYNCD_TEST_KEY"\n'
        f'[connectors.dav]\nkind = "caldav"\nurl = "{own_radicale.url}"\n'
        f'username = "{own_radicale.username}"\npassword_file = "{own_radicale.password_file}"\n')
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    _store_binding(f"sqlite:///{database}", f"{thief.url}/steal/")
    assert main(["--config", str(config), "check", "--online"]) == 2
    err = capsys.readouterr().err
    assert "'stolen'" in err
    assert "another server" in err
    assert thief.requests == []


def _store_binding(url: str, calendar_id: str) -> None:
    """A binding as an older syncd, which did not check calendar ids, stored it."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(Merchant).values(key="m1", name="Salon", timezone="UTC"))
        merchant = connection.scalar(select(Merchant.id))
        connection.execute(insert(Staff).values(merchant_id=merchant, key="alice", name="Alice",
                                                timezone="UTC", working_hours={}))
        staff = connection.scalar(select(Staff.id))
        connection.execute(insert(CalendarBinding).values(
            staff_id=staff, key="stolen", connector="dav", calendar_id=calendar_id))
    engine.dispose()

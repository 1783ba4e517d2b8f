"""A stored Microsoft 365 account keeps its own fields (app, tenant_id, sign_in, user); its
connector is built with the app registration's table as configured now, so a new client
secret in the table reaches it. Accounts stored before with the whole table still work.
The API takes the same own fields and checks them against the app's table."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import AuthError
from syncd.api import create_app
from syncd.config import Settings
from syncd.connector_registry import ConnectorRegistry
from syncd.runtime import Runtime
from syncd.store import accounts
from syncd.store.schema import upgrade
from syncd.store.sealing import new_key
from syncd.wiring import build_runtime
from tests import factories as f
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.contract.suite import spec
from tests.graph import GraphDouble
from tests.m365.signin_support import add_staff, app_table
from tests.m365.support import secret_file

pytestmark = pytest.mark.timeout(60)
M = "/api/v1/merchants/m1"


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture
def table(double: GraphDouble, tmp_path: Path) -> dict[str, Any]:
    return app_table(double, tmp_path)


def settings_with(database_url: str, table: dict[str, Any]) -> Settings:
    return Settings.model_validate({
        "database": {"url": database_url},
        "connectors": {"ms": table, "local": {"kind": "memory"}},
    })


@pytest.fixture
def runtime(database_url: str, table: dict[str, Any],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", new_key())
    made = build_runtime(settings_with(database_url, table))
    upgrade(made.engine)
    yield made
    made.close()


@pytest.fixture
def api(runtime: Runtime) -> Iterator[ApiClient]:
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        created = client.put(M, json={"name": "Salon One", "timezone": "Europe/Berlin"})
        assert created.status_code == 201
        yield client


def test_the_api_stores_the_own_fields_and_checks_them_against_the_app(
    api: ApiClient, double: GraphDouble
) -> None:
    answer = api.put(f"{M}/accounts/contoso", json={
        "kind": "m365", "settings": {"tenant_id": double.tenant_id}})
    assert answer.status_code == 201, answer.text
    assert answer.json()["settings"] == {"kind": "m365", "app": "ms",  # the only m365 app
                                         "tenant_id": double.tenant_id, "sign_in": "app"}
    cases = [
        ({"tenant_id": double.tenant_id, "client_id": "x"}, "settings.client_id"),
        ({"tenant_id": double.tenant_id, "app": "local"}, "settings.app"),  # not m365
        ({"tenant_id": double.tenant_id, "app": "nosuch"}, "settings.app"),
        ({"tenant_id": "not a tenant"}, "settings.tenant_id"),
        ({"tenant_id": double.tenant_id, "sign_in": "delegated"}, "settings"),  # no user
    ]
    for given, field in cases:
        refused = api.put(f"{M}/accounts/other", json={"kind": "m365", "settings": given})
        assert refused.status_code == 422, (given, refused.text)
        assert any(k.startswith(field) for k in refused.json()["error"]["fields"]), given


def store(runtime: Runtime, settings: dict[str, Any]) -> str:
    with runtime.sessions.begin() as session:
        change = accounts.AccountChange("m365", settings, None)
        account, _ = accounts.upsert_account(session, f.merchant(session), "org", change)
        return accounts.registry_name(account.id)


async def write_with(registry: ConnectorRegistry, name: str, mailbox: str) -> None:
    await registry.refresh()
    try:
        await registry[name].calendar(mailbox).create(spec())
    finally:
        await registry.aclose()


def test_a_new_client_secret_in_the_app_table_reaches_the_stored_account(
    runtime: Runtime, double: GraphDouble, table: dict[str, Any], database_url: str,
    tmp_path: Path,
) -> None:
    name = store(runtime, {"kind": "m365", "app": "ms", "tenant_id": double.tenant_id})
    mailbox = add_staff(double)
    rotated = {**table, "client_secret_file": secret_file("a-new-secret", tmp_path)}
    double.add_app(table["client_id"], secret="a-new-secret")  # the operator rotates it
    registry = ConnectorRegistry(settings_with(database_url, rotated), runtime.sessions)
    asyncio.run(write_with(registry, name, mailbox))
    assert len(double.events(mailbox)) == 1
    stale = ConnectorRegistry(settings_with(database_url, table), runtime.sessions)
    with pytest.raises(AuthError):  # the old secret no longer works at Microsoft
        asyncio.run(write_with(stale, name, mailbox))


def test_an_account_stored_with_the_whole_table_still_works(
    runtime: Runtime, double: GraphDouble, table: dict[str, Any], database_url: str,
) -> None:
    name = store(runtime, {**table, "tenant_id": double.tenant_id})
    mailbox = add_staff(double)
    asyncio.run(write_with(ConnectorRegistry(runtime.settings, runtime.sessions), name, mailbox))
    assert len(double.events(mailbox)) == 1


def test_an_account_whose_app_is_no_longer_configured_is_left_out(
    runtime: Runtime, double: GraphDouble, database_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    name = store(runtime, {"kind": "m365", "app": "gone", "tenant_id": double.tenant_id})
    registry = ConnectorRegistry(runtime.settings, runtime.sessions)

    async def look() -> bool:
        await registry.refresh()
        return name in registry and registry.get(name) is not None

    assert not asyncio.run(look())
    assert "[connectors.gone] (kind m365)" in caplog.text

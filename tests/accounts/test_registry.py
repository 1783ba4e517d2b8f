"""The connector registry: stored accounts appear, change and go by refresh, build on
first use, hold no HTTP client until a calendar needs one, and close when idle."""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from connectors.caldav import CalDAVConnector
from connectors.errors import AuthError
from syncd.config import Settings
from syncd.connector_registry import ConnectorRegistry
from syncd.runtime import Runtime
from syncd.store import accounts
from syncd.store.sealing import Sealer, new_key
from syncd.wiring import build_runtime
from tests import factories as f
from tests.contract.harness import unique_name
from tests.contract.suite import spec
from tests.servers import RadicaleServer

KEY = new_key()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def runtime(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("TEST_KEYS", KEY)
    settings = Settings.model_validate({
        "database": {"url": database_url},
        "keys": {"encryption_keys_env": "TEST_KEYS"},
        "accounts": {"idle_close_seconds": 60},
    })
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def store(runtime: Runtime, key: str, server: RadicaleServer, password: str) -> int:
    settings = {"kind": "caldav", "url": server.url, "username": server.username}
    change = accounts.AccountChange("caldav", settings, Sealer([KEY]).seal(password))
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        account, _ = accounts.upsert_account(session, shop, key, change)
        return account.id


def remove(runtime: Runtime, key: str) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        accounts.delete_account(session, accounts.get_account(session, shop, key))


def _open_clients(connector: object) -> int:
    assert isinstance(connector, CalDAVConnector)
    return connector._dav.open_clients


def test_an_account_is_seen_after_refresh_and_its_password_change_rebuilds_it(
    runtime: Runtime, radicale: RadicaleServer
) -> None:
    async def scenario() -> None:
        registry = ConnectorRegistry(runtime.settings, runtime.sessions)
        account_id = store(runtime, "alice", radicale, "wrong")
        name = accounts.registry_name(account_id)
        assert name not in registry
        await registry.refresh()
        assert name in registry
        assert list(registry) == [name]
        first = registry[name]
        assert _open_clients(first) == 0  # nothing made until a calendar needs it
        calendar = radicale.create_collection(unique_name())
        with pytest.raises(AuthError):
            await first.calendar(calendar).create(spec("b1"))
        store(runtime, "alice", radicale, radicale.password)
        await registry.refresh()
        second = registry[name]
        assert second is not first
        assert _open_clients(first) == 0  # closed when replaced
        assert (await second.calendar(calendar).create(spec("b1"))).remote_id
        remove(runtime, "alice")
        await registry.refresh()
        assert name not in registry
        await registry.aclose()

    asyncio.run(scenario())


def test_the_periodic_look_reads_one_row_unless_an_account_changed(
    runtime: Runtime, radicale: RadicaleServer
) -> None:
    async def scenario() -> None:
        registry = ConnectorRegistry(runtime.settings, runtime.sessions)
        alice = accounts.registry_name(store(runtime, "alice", radicale, "one"))
        await registry.refresh()
        first = registry[alice]
        with statements_on_accounts(runtime) as read:
            assert not await registry.refresh_if_changed()
        assert len(read) == 1
        assert "count(" in read[0].lower()  # the fingerprint alone
        store(runtime, "alice", radicale, "two")  # a new version
        assert await registry.refresh_if_changed()
        assert registry[alice] is not first
        bob = accounts.registry_name(store(runtime, "bob", radicale, "one"))
        assert await registry.refresh_if_changed()
        assert bob in registry
        remove(runtime, "alice")
        carol = accounts.registry_name(store(runtime, "carol", radicale, "one"))  # in its place
        assert await registry.refresh_if_changed()
        assert list(registry) == [bob, carol]
        assert not await registry.refresh_if_changed()
        await registry.aclose()

    asyncio.run(scenario())


@contextlib.contextmanager
def statements_on_accounts(runtime: Runtime) -> Iterator[list[str]]:
    """The statements reading or writing connector_accounts meanwhile."""
    found: list[str] = []

    def seen(*args: Any) -> None:
        if "connector_accounts" in args[2]:
            found.append(args[2])

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)


def test_an_idle_account_is_closed_and_built_again_when_next_used(
    runtime: Runtime, radicale: RadicaleServer
) -> None:
    async def scenario() -> None:
        clock = Clock()
        registry = ConnectorRegistry(runtime.settings, runtime.sessions, clock=clock)
        name = accounts.registry_name(store(runtime, "alice", radicale, radicale.password))
        await registry.refresh()
        first = registry[name]
        await first.check()
        assert _open_clients(first) == 1
        clock.now += 30
        await registry.refresh()
        assert registry.open_accounts() == 1
        clock.now += 61
        await registry.refresh()
        assert registry.open_accounts() == 0
        assert _open_clients(first) == 0
        assert registry[name] is not first
        await registry.aclose()

    asyncio.run(scenario())


def test_an_account_no_key_opens_is_left_out_and_named_without_its_secret(
    runtime: Runtime, radicale: RadicaleServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        registry = ConnectorRegistry(runtime.settings, runtime.sessions)
        settings = {"kind": "caldav", "url": radicale.url, "username": radicale.username}
        sealed = Sealer([new_key()]).seal("the lost password")
        with runtime.sessions.begin() as session:
            change = accounts.AccountChange("caldav", settings, sealed)
            account, _ = accounts.upsert_account(session, f.merchant(session), "lost", change)
        await registry.refresh()
        assert accounts.registry_name(account.id) not in registry
        await registry.aclose()

    asyncio.run(scenario())
    assert "cannot be used" in caplog.text
    assert "the lost password" not in caplog.text


def test_a_thousand_idle_accounts_hold_no_http_client(
    runtime: Runtime, radicale: RadicaleServer
) -> None:
    """Figures: the memory a looked-up, unused account costs (printed with -s)."""

    async def scenario() -> None:
        registry = ConnectorRegistry(runtime.settings, runtime.sessions)
        sealed = Sealer([KEY]).seal(radicale.password)
        settings = {"kind": "caldav", "url": radicale.url, "username": radicale.username}
        with runtime.sessions.begin() as session:
            shop = f.merchant(session)
            for n in range(1000):
                change = accounts.AccountChange("caldav", settings, sealed)
                accounts.upsert_account(session, shop, f"a{n}", change)
        await registry.refresh()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        built = [registry[name] for name in list(registry)]
        per_account = (tracemalloc.get_traced_memory()[0] - before) / len(built)
        tracemalloc.stop()
        print(f"memory per idle stored account: {per_account / 1024:.1f} KiB")
        assert len(built) == 1000
        assert sum(_open_clients(c) for c in built) == 0
        assert per_account < 64 * 1024
        await registry.aclose()

    asyncio.run(scenario())

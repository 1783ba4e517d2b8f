"""On PostgreSQL a change of a stored account reaches another process within seconds:
the committing transaction's NOTIFY syncd_accounts makes its registry look again, and
its worker tries the account's calendars at once (its own refresh and sweep are an
hour away, so nothing else could)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.store import accounts
from syncd.store.models import CalendarBinding
from syncd.store.schema import upgrade
from syncd.store.sealing import Sealer, new_key
from syncd.wiring import build_runtime
from tests import factories as f
from tests.caldav_listing import list_events
from tests.contract.harness import unique_name
from tests.dbs import postgres_database_url
from tests.e2e.conftest import WorkerProcess, wait_until, write_config
from tests.servers import RadicaleServer, free_port

KEY = new_key()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", KEY)
    with postgres_database_url() as url:
        path = write_config(tmp_path / "syncd.toml", url, {"kind": "memory"},
                            sweep_interval_seconds=3600.0)
        path.write_text(path.read_text() + "[accounts]\nrefresh_seconds = 3600\n")
        yield path


def store_account(runtime: Runtime, radicale: RadicaleServer, password: str) -> int:
    settings = {"kind": "caldav", "url": radicale.url, "username": radicale.username}
    change = accounts.AccountChange("caldav", settings, Sealer([KEY]).seal(password))
    with runtime.sessions.begin() as session:
        found, _ = accounts.upsert_account(session, f.merchant(session), "alice-dav", change)
        return found.id


def binding_state(runtime: Runtime) -> str:
    with runtime.sessions.begin() as session:
        return session.query(CalendarBinding).one().state


def test_a_new_password_reaches_another_process_within_seconds(
    tmp_path: Path, config: Path, radicale: RadicaleServer
) -> None:
    runtime = build_runtime(load_config(config, environ={}))
    upgrade(runtime.engine)
    calendar = radicale.create_collection(unique_name())
    account_id = store_account(runtime, radicale, "wrong-password")
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", calendar, accounts.registry_name(account_id))
        session.query(CalendarBinding).update({"account_id": account_id})
    log = tmp_path / "worker.log"
    worker = WorkerProcess(config, log)
    worker.start()
    try:
        wait_until(lambda: "listening on syncd_accounts" in log.read_text(), 30, "the listener")
        with runtime.sessions.begin() as session:
            f.book(session, "b1", "alice", f.slot(0))
        wait_until(lambda: binding_state(runtime) == "auth_error", 15, "the password refused")
        store_account(runtime, radicale, radicale.password)
        started = time.monotonic()
        wait_until(lambda: len(list_events(radicale, calendar)) == 1, 10, "the event written")
        took = time.monotonic() - started
        print(f"another process wrote with the new password {took:.2f}s after it was stored")
        assert took < 5.0
        assert worker.terminate() == 0
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.kill()
        runtime.close()
    assert radicale.password not in log.read_text()


def test_a_web_process_alone_keeps_its_accounts_in_step_too(
    tmp_path: Path, config: Path
) -> None:
    """`syncd web` binds calendars of stored accounts: it runs the accounts service."""
    runtime = build_runtime(load_config(config, environ={}))
    upgrade(runtime.engine)
    runtime.close()
    port = free_port()
    config.write_text(config.read_text() + f"[api]\nport = {port}\nkey_env = \"TEST_API_KEY\"\n"
                      "[metrics]\nport = 0\n")
    log = tmp_path / "web.log"
    with log.open("ab") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(config), "web"],
            stdout=out, stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TEST_API_KEY": "k"},
        )
    try:
        wait_until(lambda: "listening on syncd_accounts" in log.read_text()
                   or web.poll() is not None, 30, "the refresher")
        assert "listening on syncd_accounts" in log.read_text(), log.read_text()
        web.send_signal(signal.SIGTERM)
        assert web.wait(20) == 0
    finally:
        if web.poll() is None:
            web.kill()
            web.wait()

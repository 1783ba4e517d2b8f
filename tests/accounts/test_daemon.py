"""A running `syncd run` takes a calendar account stored through the API, with no config
edit and no restart: a booking reaches the account's Radicale calendar within seconds,
a new password is picked up as it is stored, and the account goes once unbound."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.store.sealing import new_key
from tests.api.helpers import booking_body
from tests.caldav_listing import list_events
from tests.contract.harness import unique_name
from tests.servers import RadicaleServer
from tests.web.daemon import SyncdDaemon

M = "/merchants/m1"
WRONG = "not-the-password-7d1f"


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `check` held."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def shop(daemon: SyncdDaemon) -> None:
    daemon.put(M, {"name": "Salon", "timezone": "Europe/Berlin"})
    daemon.put(f"{M}/services/cut", {"name": "Haircut", "duration_minutes": 30})
    daemon.put(f"{M}/staff/alice", {"name": "Alice", "timezone": "Europe/Berlin"})


def account(radicale: RadicaleServer, password: str) -> dict[str, object]:
    return {"kind": "caldav", "staff": "alice", "credential": {"password": password},
            "settings": {"url": radicale.url, "username": radicale.username}}


def test_an_account_stored_through_the_api_is_used_at_once_by_a_running_daemon(
    tmp_path: Path, radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", new_key())
    calendar = radicale.create_collection(unique_name())
    binding = f"{M}/staff/alice/calendars/dav"
    with SyncdDaemon(tmp_path, {}) as daemon:
        shop(daemon)
        daemon.put(f"{M}/accounts/alice-dav", account(radicale, WRONG))
        daemon.put(binding, {"account": "alice-dav", "calendar_id": calendar})
        daemon.put(f"{M}/bookings/b1", booking_body(start="2030-01-10T10:00:00+01:00"))
        wait_for(lambda: daemon.api.get(f"/api/v1{binding}").json()["state"] == "auth_error",
                 15, "the wrong password refused")
        daemon.put(f"{M}/accounts/alice-dav", account(radicale, radicale.password))
        took = wait_for(lambda: len(list_events(radicale, calendar)) == 1, 10, "the event")
        print(f"booking on the calendar {took:.2f}s after the new password was stored")
        assert daemon.api.delete(f"/api/v1{M}/accounts/alice-dav").status_code == 409
        daemon.put(binding, {"account": "alice-dav", "calendar_id": calendar, "active": False})
        wait_for(lambda: not list_events(radicale, calendar), 10, "the event removed")
        wait_for(lambda: daemon.api.delete(f"/api/v1{M}/accounts/alice-dav").status_code == 204,
                 10, "the account deleted")
    log = daemon.log.read_text()
    assert radicale.password not in log
    assert WRONG not in log

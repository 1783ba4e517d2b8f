"""A soak: `syncd run` under a steady stream of bookings, reschedules and cancels.

Memory at the end must be within 20% of what it was after the warm-up, nothing may be
left pending, the daemon must stop cleanly on SIGTERM, and the calendars must hold one
event per live booking. tests/e2e/test_soak.py runs a short soak in the suite;
bench/soak.py runs a long one (ten minutes by default).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from syncd.domain.bookings import BookingStatus
from syncd.runtime import Runtime
from syncd.store.models import Booking
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.e2e.conftest import CALENDARS, pending_count, wait_until, write_config
from tests.servers import RadicaleServer, free_port

API_KEY = "soak-test-key"
KEY_ENV = "SYNCD_SOAK_KEY"
RSS_GROWTH_ALLOWED = 1.2
DRAIN_SECONDS = 120.0
PAUSE_BETWEEN_REQUESTS = 0.05


def warm_up_seconds(soak_seconds: float) -> float:
    """When the baseline memory is read: after the first minute, or a fifth of a short soak."""
    return min(60.0, soak_seconds / 5)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Traffic:
    """What a booking platform sends: new bookings, reschedules, cancels."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1/merchants/acme",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        self.rng = rng
        self.live: list[str] = []
        self.made = 0

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.5 or len(self.live) < 20:
            self._book(f"k{self.made}")
            self.made += 1
        elif roll < 0.8:
            self._book(self.rng.choice(self.live))
        else:
            key = self.live.pop(self.rng.randrange(len(self.live)))
            self._expect(self.client.post(f"/bookings/{key}/cancel"))

    def close(self) -> None:
        self.client.close()

    def _book(self, key: str) -> None:
        start = f.slot(self.rng.randrange(5000)) + timedelta(days=1)
        body = f.booking_body(self.rng.choice(CALENDARS), start).model_dump(mode="json")
        self._expect(self.client.put(f"/bookings/{key}", json=body))
        if key not in self.live:
            self.live.append(key)

    @staticmethod
    def _expect(response: httpx.Response) -> None:
        assert response.status_code in (200, 201), response.text


@dataclass(frozen=True)
class SoakSetup:
    """A daemon's configuration (SQLite store, `server`'s calendars, the API on `port`)."""

    config: Path
    port: int
    log: Path


def soak_setup(directory: Path, server: RadicaleServer) -> SoakSetup:
    """Write the configuration; `server` must hold the calendars of CALENDARS."""
    port = free_port()
    config = write_config(
        directory / "syncd.toml", f"sqlite:///{directory}/syncd.db", server.connector_settings()
    )
    with config.open("a") as extra:
        extra.write(f'[api]\nport = {port}\nkey_env = "{KEY_ENV}"\n')
    return SoakSetup(config, port, directory / "syncd.log")


def seed_shop(runtime: Runtime, server: RadicaleServer) -> None:
    """Merchant acme with one service and a staff member on each calendar of CALENDARS."""
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, server.collection_path(name))


@dataclass(frozen=True)
class SoakReport:
    warm_rss: int | None  # None: the soak ended before its warm-up did
    final_rss: int
    pending: int
    exit_code: int

    def assert_held(self) -> None:
        """The daemon drained its work, stopped cleanly and did not grow."""
        assert self.pending == 0, f"{self.pending} items still pending"
        assert self.exit_code == 0, f"syncd exited with {self.exit_code}"
        assert self.warm_rss is not None
        assert self.final_rss <= self.warm_rss * RSS_GROWTH_ALLOWED, (
            f"RSS grew from {self.warm_rss} to {self.final_rss}"
        )


def run_soak(setup: SoakSetup, runtime: Runtime, seconds: float) -> SoakReport:
    """Run `syncd run` under traffic for `seconds`, then let it drain and stop it."""
    with setup.log.open("wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(setup.config), "run"],
            stdout=log,
            stderr=log,
            env=_daemon_environment(setup),
        )
        try:
            wait_until(lambda: _healthy(setup.port), 30, "syncd to start")
            warm_rss = _drive(setup.port, daemon.pid, seconds)
            drained = _wait_for(lambda: pending_count(runtime) == 0, DRAIN_SECONDS)
            final_rss = rss_bytes(daemon.pid)
            daemon.send_signal(signal.SIGTERM)
            exit_code = daemon.wait(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    pending = 0 if drained else pending_count(runtime)
    return SoakReport(warm_rss, final_rss, pending, exit_code)


def _daemon_environment(setup: SoakSetup) -> dict[str, str]:
    """The API key; mail written beside the store, metrics on any free port (as in tests)."""
    return {
        **os.environ,
        KEY_ENV: API_KEY,
        "SYNCD_MAIL__DIRECTORY": str(setup.config.parent / "mail"),
        "SYNCD_METRICS__PORT": "0",
    }


def _drive(port: int, pid: int, seconds: float) -> int | None:
    """Send traffic for `seconds`; the daemon's RSS once warmed up (None if never)."""
    traffic = Traffic(port, random.Random(7))
    started = time.monotonic()
    warm_rss = None
    try:
        while time.monotonic() - started < seconds:
            traffic.step()
            time.sleep(PAUSE_BETWEEN_REQUESTS)
            if warm_rss is None and time.monotonic() - started > warm_up_seconds(seconds):
                warm_rss = rss_bytes(pid)
    finally:
        traffic.close()
    return warm_rss


def _wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def assert_calendars_match(runtime: Runtime, server: RadicaleServer) -> None:
    """Each live booking has exactly one event, and nothing else is on the calendars."""
    with runtime.sessions.begin() as session:
        live = {
            b.uid for b in session.scalars(select(Booking)) if b.status != BookingStatus.CANCELLED
        }
    events = [e for name in CALENDARS for e in list_events(server, server.collection_path(name))]
    assert duplicates(events) == []
    assert {e.uid for e in events} == live

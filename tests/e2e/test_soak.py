"""A soak: `syncd run` under a steady stream of bookings, reschedules and cancels.

Runs SYNCD_SOAK_SECONDS (default 600). Memory at the end must be within 20% of
what it was after the first minute, and nothing may be left pending.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncd.runtime import Runtime
from syncd.store.models import Booking, BookingStatus
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.e2e.conftest import CALENDARS, pending_count, wait_until, write_config
from tests.servers import RadicaleServer, free_port

SOAK_SECONDS = float(os.environ.get("SYNCD_SOAK_SECONDS", "600"))
WARM_UP_SECONDS = min(60.0, SOAK_SECONDS / 5)
API_KEY = "soak-test-key"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SOAK_SECONDS + 300)]


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

    def _book(self, key: str) -> None:
        start = f.slot(self.rng.randrange(5000)) + timedelta(days=1)
        body = f.booking_body(self.rng.choice(CALENDARS), start).model_dump(mode="json")
        self._expect(self.client.put(f"/bookings/{key}", json=body))
        if key not in self.live:
            self.live.append(key)

    @staticmethod
    def _expect(response: httpx.Response) -> None:
        assert response.status_code in (200, 201), response.text


def test_daemon_holds_steady_under_load(
    tmp_path: Path, radicale: RadicaleServer, runtime_for: Callable[[Path], Runtime]
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "syncd.toml", f"sqlite:///{tmp_path}/syncd.db", radicale.connector_settings()
    )
    with config.open("a") as extra:
        extra.write(f'[api]\nport = {port}\nkey_env = "SYNCD_SOAK_KEY"\n')
    runtime = runtime_for(config)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, radicale.collection_path(name))
    log = (tmp_path / "syncd.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "syncd", "--config", str(config), "run"],
        stdout=log,
        stderr=log,
        env={**os.environ, "SYNCD_SOAK_KEY": API_KEY},
    )
    try:
        wait_until(lambda: _healthy(port), 30, "syncd to start")
        traffic = Traffic(port, random.Random(7))
        started = time.monotonic()
        warm_rss = None
        while time.monotonic() - started < SOAK_SECONDS:
            traffic.step()
            time.sleep(0.05)
            if warm_rss is None and time.monotonic() - started > WARM_UP_SECONDS:
                warm_rss = rss_bytes(daemon.pid)
        wait_until(lambda: pending_count(runtime) == 0, 120, "nothing pending")
        final_rss = rss_bytes(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
    assert warm_rss is not None
    assert final_rss <= warm_rss * 1.2, f"RSS grew from {warm_rss} to {final_rss}"
    assert_calendars_match(runtime, radicale)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def assert_calendars_match(runtime: Runtime, server: RadicaleServer) -> None:
    with runtime.sessions.begin() as session:
        live = {
            b.uid for b in session.scalars(select(Booking)) if b.status != BookingStatus.CANCELLED
        }
    events = [e for name in CALENDARS for e in list_events(server, server.collection_path(name))]
    assert duplicates(events) == []
    assert {e.uid for e in events} == live

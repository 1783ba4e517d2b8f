"""`syncd run` serves the metrics README.md documents on its own port, after real traffic,
with label sets that stay bounded however many bookings and paths there were."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import MERCHANT, booking_body
from tests.ops.conftest import samples
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "daemon-metrics-test-key-0b6e"
BOOKINGS = 20

pytestmark = pytest.mark.timeout(180)


def documented_names() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(syncd_[a-z_]+)` \|", section, re.M))


def served_names(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (syncd_[a-z_]+) ", exposition, re.M))


class Daemon:
    def __init__(self, tmp_path: Path) -> None:
        self.api_port, self.metrics_port = free_port(), free_port()
        self.config = tmp_path / "syncd.toml"
        self.config.write_text(
            f'[database]\nurl = "sqlite:///{tmp_path}/syncd.db"\n'
            f'[api]\nport = {self.api_port}\nkey_env = "SYNCD_METRICS_TEST_KEY"\n'
            "[worker]\nsweep_interval_seconds = 0.5\n"
            f"[metrics]\nport = {self.metrics_port}\ndatabase_cache_seconds = 0\n"
            '[connectors.local]\nkind = "memory"\n'
        )
        self.log = tmp_path / "syncd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environ = {
            **os.environ,
            "SYNCD_METRICS_TEST_KEY": API_KEY,
            "SYNCD_METRICS__PORT": str(self.metrics_port),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syncd", "--config", str(self.config), "run"],
                stdout=log, stderr=log, env=environ,
            )

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", headers=headers)

    def scrape(self) -> str:
        response = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        assert response.status_code == 200
        return response.text

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path)
    daemon.start()
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{daemon.api_port}/readyz"), "readiness")
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def traffic(client: httpx.Client) -> list[str]:
    """A shop, bookings made, moved and cancelled, and some requests that fail."""
    for path, body in (
        ("", {"name": "Salon", "timezone": "Europe/Berlin"}),
        ("/services/cut", {"name": "Haircut", "duration_minutes": 30}),
        ("/staff/alice", {"name": "Alice", "timezone": "Europe/Berlin"}),
        ("/staff/alice/calendars/work", {"connector": "local", "calendar_id": "alice"}),
    ):
        assert client.put(MERCHANT + path, json=body).status_code == 201
    keys = [f"key-{uuid.uuid4().hex}" for _ in range(BOOKINGS)]
    for n, key in enumerate(keys):
        start = f"2031-01-{1 + n % 28:02d}T10:00:00+01:00"
        assert client.put(f"{MERCHANT}/bookings/{key}", json=booking_body(start=start)).is_success
    for key in keys[:5]:
        moved = booking_body(start="2031-02-01T15:00:00+01:00")
        assert client.put(f"{MERCHANT}/bookings/{key}", json=moved).is_success
    for key in keys[5:10]:
        assert client.post(f"{MERCHANT}/bookings/{key}/cancel").is_success
    assert client.get(f"/nothing/here/{keys[0]}").status_code == 404
    assert client.put(f"{MERCHANT}/bookings/{keys[0]}", json={"start": "x"}).status_code == 422
    return keys


def test_the_daemon_serves_every_documented_metric_after_traffic(daemon: Daemon) -> None:
    with daemon.api() as client:
        keys = traffic(client)

    def converged() -> bool:
        pending = samples(daemon.scrape(), "syncd_mirrors_pending")
        return bool(pending) and all(s.value == 0 for s in pending)

    wait_for(converged, "every mirror written", timeout=120)
    text = daemon.scrape()
    documented, served = documented_names(), served_names(text)
    assert documented - served == set(), "documented in README.md but not served"
    assert served - documented == set(), "served but not documented in README.md (## Metrics)"
    writes = {
        s.labels["outcome"]: s.value
        for s in samples(text, "syncd_mirror_writes")
        if s.name == "syncd_mirror_writes_total" and s.labels["connector"] == "memory"
    }
    # Quick edits fold into one write (level-triggered): at least every live booking's event.
    assert BOOKINGS - 5 <= writes.get("ok", 0) <= BOOKINGS + 5 + 5
    booking_route = "/api/v1/merchants/{merchant}/bookings/{booking}"
    puts = [
        s.value
        for s in samples(text, "syncd_http_request_duration_seconds")
        if s.name.endswith("_count") and s.labels == {
            "route": booking_route, "method": "PUT", "status": "2xx"
        }
    ]
    assert puts == [BOOKINGS + 5]
    assert_bounded_labels(text, keys)
    assert httpx.get(f"http://127.0.0.1:{daemon.metrics_port}/readyz").status_code == 200
    assert daemon.stop() == 0


def assert_bounded_labels(text: str, keys: list[str]) -> None:
    """No key, address or raw path in any label; latency label sets far fewer than requests."""
    for key in keys:
        assert key not in text
    assert "@" not in text
    routes = {
        s.labels["route"]
        for s in samples(text, "syncd_http_request_duration_seconds")
    }
    assert all(r == "unmatched" or "{" in r or r.count("/") <= 2 for r in routes), routes
    assert len(routes) < 10, routes


def test_a_taken_metrics_port_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path)
    with socket.create_server(("127.0.0.1", daemon.metrics_port)):
        daemon.start()
        assert daemon.process is not None
        assert daemon.process.wait(timeout=60) == 2
    log = daemon.log.read_text()
    assert f"metrics.port: cannot listen on 127.0.0.1:{daemon.metrics_port}" in log

"""PostgreSQL restarted twice and stopped for half a minute under `syncd web` and two
`syncd worker` processes with booking traffic: no process exits, the API answers 503 with
Retry-After while the database is gone (never a 500 or a dropped connection), /readyz
names the database, and every acknowledged booking ends up on its calendar exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncd.domain.bookings import BookingStatus
from syncd.runtime import Runtime
from syncd.store.models import Booking, Mirror, Staff
from tests import factories as f
from tests.api.helpers import booking_body
from tests.caldav_listing import duplicates, list_events
from tests.e2e.conftest import CALENDARS, pending_count, wait_until
from tests.private_postgres import PrivatePostgres
from tests.servers import RadicaleServer, free_port

pytestmark = pytest.mark.slow
API_KEY = "outage-test-key"
OUTAGE_SECONDS = 15.0  # longer than each timeout: connecting (10 s), the lease (5 s), backoff
FIRST_SLOT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)

CONFIG = """
[database]
url = "{database}"
[api]
port = {port}
key_env = "SYNCD_OUTAGE_KEY"
[worker]
sweep_interval_seconds = 2.0
backoff_base_seconds = 0.1
backoff_max_seconds = 1.0
lease_seconds = 5.0
[mail]
directory = "{root}/mail"
[connectors.local]
kind = "caldav"
url = "{dav}"
username = "{user}"
password_file = "{password}"
"""


class Syncd:
    """One `syncd <mode>` process."""

    def __init__(self, config: Path, mode: str, log: Path) -> None:
        self.config, self.mode, self.log = config, mode, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syncd", "--config", str(self.config), self.mode],
                stdout=out, stderr=out,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "SYNCD_OUTAGE_KEY": API_KEY},
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(30)


class Traffic:
    """Clients booking, moving and cancelling; each retries a 503 until acknowledged."""

    def __init__(self, api: str) -> None:
        self.api, self.stop = api, threading.Event()
        self.acknowledged: dict[str, tuple[str, datetime | None]] = {}
        self.answers: Counter[str] = Counter()
        self._slot = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(3)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self) -> int:
        return len(self.acknowledged)

    def _client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=self.api, headers=headers, timeout=20) as client:
            for i in range(10_000):
                if self.stop.is_set():
                    return
                self._step(client, f"c{number}-b{i // 3}", i % 3)

    def _step(self, client: httpx.Client, key: str, step: int) -> None:
        path = f"/api/v1/merchants/acme/bookings/{key}"
        if step == 2 and hash(key) % 2:
            if self._until_acknowledged(client, client.build_request("POST", path + "/cancel")):
                self.acknowledged[key] = ("cancelled", None)
            return
        staff = CALENDARS[hash(key) % len(CALENDARS)]
        start = self._next_slot()
        body = booking_body(service="cut", staff=staff, start=start.isoformat())
        if self._until_acknowledged(client, client.build_request("PUT", path, json=body)):
            self.acknowledged[key] = ("confirmed", start)

    def _next_slot(self) -> datetime:
        with self._lock:
            self._slot += 1
            return FIRST_SLOT + timedelta(minutes=30 * self._slot)

    def _until_acknowledged(self, client: httpx.Client, request: httpx.Request) -> bool:
        while not self.stop.is_set():
            try:
                response = client.send(request)
            except httpx.TransportError as error:
                self.answers[f"dropped: {type(error).__name__}"] += 1
                time.sleep(0.5)
                continue
            self.answers[f"{response.status_code} {_code(response)}"] += 1
            if response.status_code in (200, 201):
                return True
            if response.status_code != 503 or "Retry-After" not in response.headers:
                return False  # counted; the test fails on it
            time.sleep(min(1.0, float(response.headers["Retry-After"])))
        return False


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


def seed(runtime: Runtime, server: RadicaleServer) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, server.collection_path(name))


def test_processes_ride_through_database_restarts_and_an_outage(
    tmp_path: Path,
    postgres: PrivatePostgres,
    dav_server: RadicaleServer,
    runtime_for: Callable[[Path], Runtime],
) -> None:
    port = free_port()
    config = tmp_path / "syncd.toml"
    config.write_text(CONFIG.format(
        database=postgres.url, port=port, root=tmp_path, dav=dav_server.url,
        user=dav_server.username, password=dav_server.password_file,
    ))
    runtime = runtime_for(config)
    seed(runtime, dav_server)
    processes = [Syncd(config, mode, tmp_path / f"{mode}{i}.log")
                 for i, mode in enumerate(["web", "worker", "worker"])]
    for process in processes:
        process.start()
    api = f"http://127.0.0.1:{port}"
    wait_until(lambda: _status(api + "/readyz") == 200, 60, "syncd web to be ready")

    def all_alive() -> None:
        assert [p.mode for p in processes if not p.alive()] == [], _logs(processes)

    with Traffic(api) as traffic:
        for _ in range(2):
            _wait_for_more(traffic, 10)
            postgres.restart()
            all_alive()
        _wait_for_more(traffic, 10)
        postgres.stop()
        wait_until(lambda: _status(api + "/readyz") == 503, 30, "/readyz to fail")
        failing = httpx.get(api + "/readyz").json()
        assert failing["checks"]["database"]["cause"] == "database_unavailable", failing
        processes[2].terminate()
        processes[2].start()  # a worker started while the database is gone waits for it
        time.sleep(OUTAGE_SECONDS)  # the outage itself: its length is the point
        all_alive()
        postgres.start()
        _wait_for_more(traffic, 20)
    all_alive()
    assert set(traffic.answers) <= {"200 ", "201 ", "503 database_unavailable"}, traffic.answers
    assert traffic.answers["503 database_unavailable"] > 0
    wait_until(lambda: pending_count(runtime) == 0, 180, "every mirror converged")
    for process in processes:
        assert process.terminate() == 0, _logs(processes)
    assert_bookings_as_acknowledged(runtime, traffic.acknowledged)
    assert_one_event_per_live_booking(runtime, dav_server)


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=10).status_code
    except httpx.TransportError:
        return None


def _wait_for_more(traffic: Traffic, more: int) -> None:
    wanted = traffic.count() + more
    wait_until(lambda: traffic.count() >= wanted, 90, f"{more} more acknowledged bookings")


def _logs(processes: list[Syncd]) -> str:
    return "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in processes)


def assert_bookings_as_acknowledged(
    runtime: Runtime, acknowledged: dict[str, tuple[str, datetime | None]]
) -> None:
    with runtime.sessions.begin() as session:
        stored = {b.key: b for b in session.scalars(select(Booking))}
    for key, (status, start) in acknowledged.items():
        booking = stored[key]
        if status == "cancelled":
            assert booking.status == BookingStatus.CANCELLED, key
        else:
            assert booking.start == start, key


def assert_one_event_per_live_booking(runtime: Runtime, server: RadicaleServer) -> None:
    with runtime.sessions.begin() as session:
        bookings = list(session.scalars(select(Booking)))
        staff = {s.id: s.key for s in session.scalars(select(Staff))}
    events = {name: list_events(server, server.collection_path(name)) for name in CALENDARS}
    assert [d for listed in events.values() for d in duplicates(listed)] == []
    where = {e.uid: (name, e.start, e.end) for name, listed in events.items() for e in listed}
    live = {b.uid: (staff[b.staff_id], b.start, b.end) for b in bookings
            if b.status != BookingStatus.CANCELLED}
    differing = {uid for uid in set(where) | set(live) if where.get(uid) != live.get(uid)}
    assert where == live, "\n".join(map(repr, _mirrors_of(runtime, differing)))


def _mirrors_of(runtime: Runtime, uids: set[str]) -> list[dict[str, object]]:
    """The mirror rows behind differences, for the failure message."""
    with runtime.sessions.begin() as session:
        rows = session.execute(
            select(Booking.key, Booking.status, Booking.version, Mirror.__table__)
            .join(Mirror, Mirror.booking_id == Booking.id)
            .where(Booking.uid.in_(uids))
        )
        return [dict(row._mapping) for row in rows]

"""A worker process stopped (SIGSTOP) past its lease with writes in flight, while the
bookings change and a second worker takes the calendar over, then resumed (SIGCONT):
it writes nothing more, records nothing, and the store never says converged while the
calendar disagrees. No reconcile pass runs: the fencing alone keeps the calendar right.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from syncd.runtime import Runtime
from syncd.store.models import Booking, Mirror, Presence
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.dav_proxy import CountingProxy
from tests.dbs import database_url
from tests.e2e.conftest import WorkerProcess, pending_count, wait_until, write_config
from tests.servers import RadicaleServer

__all__ = ["database_url"]  # on SQLite and PostgreSQL
pytestmark = pytest.mark.slow

BOOKINGS = 8
LEASE_SECONDS = 2.0
WRITES = {"PUT", "DELETE"}


class HeldWrites:
    """A slow calendar: while `holding`, writes wait in the proxy until `release`."""

    def __init__(self) -> None:
        self.holding, self.held, self.done = True, 0, 0
        self.released = threading.Event()
        self._lock = threading.Lock()

    async def __call__(self, request: Request) -> Response | None:
        if request.method not in WRITES or not self.holding:
            return None
        with self._lock:
            self.held += 1
        while not self.released.is_set():
            await asyncio.sleep(0.02)
        with self._lock:
            self.done += 1
        return None  # forwarded now, late


@pytest.fixture
def calendar(own_radicale: RadicaleServer) -> RadicaleServer:
    """A server of the test's own, with the calendar "alice"."""
    own_radicale.create_collection("alice")
    return own_radicale


def seed(runtime: Runtime, path: str) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", path)
        for i in range(BOOKINGS):
            f.book(session, f"b{i}", "alice", f.slot(i))


def move_all(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        for i in range(BOOKINGS):
            f.book(session, f"b{i}", "alice", f.slot(100 + i))


def disagreements(runtime: Runtime, server: RadicaleServer, path: str) -> list[str]:
    """Bookings whose mirror the store calls converged while the calendar shows otherwise."""
    with runtime.sessions.begin() as session:
        rows = session.execute(
            select(Booking.uid, Booking.start, Booking.end)
            .join(Mirror, Mirror.booking_id == Booking.id)
            .where(Mirror.pending.is_(False), Mirror.desired == Presence.PRESENT)
        ).all()
    shown = {event.uid: (event.start, event.end) for event in list_events(server, path)}
    return [uid for uid, start, end in rows if shown.get(uid) != (start, end)]


def test_a_resumed_worker_past_its_lease_writes_and_records_nothing(
    tmp_path: Path,
    database_url: str,
    calendar: RadicaleServer,
    runtime_for: Callable[[Path], Runtime],
) -> None:
    path = calendar.collection_path("alice")
    held = HeldWrites()
    with CountingProxy(calendar.url, fault=held) as proxy:
        config = write_config(
            tmp_path / "syncd.toml", database_url, calendar.connector_settings(url=proxy.url),
            lease_seconds=LEASE_SECONDS,
        )
        with config.open("a") as out:
            out.write("[reconcile]\nenabled = false\n")
        _play(Stage(runtime_for(config), calendar, path, proxy, held), tmp_path, config)


@dataclass
class Stage:
    runtime: Runtime
    server: RadicaleServer
    path: str
    proxy: CountingProxy
    held: HeldWrites
    seen: list[str] = field(default_factory=list)  # every disagreement ever observed

    def wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait for `check`, looking at the store and the calendar all along."""

        def looked() -> bool:
            self.seen.extend(disagreements(self.runtime, self.server, self.path))
            return check()

        wait_until(looked, timeout, what)


def _play(stage: Stage, tmp_path: Path, config: Path) -> None:
    runtime, server, path, proxy, held = (
        stage.runtime, stage.server, stage.path, stage.proxy, stage.held
    )
    seed(runtime, path)
    first, second = (WorkerProcess(config, tmp_path / f"worker-{n}.log") for n in "ab")
    first.start()
    try:
        wait_until(lambda: held.held >= 2, 30, "the first worker's writes in flight")
        assert first.process is not None
        first.process.send_signal(signal.SIGSTOP)
        held.holding = False  # later writes pass; the first worker's stay held
        move_all(runtime)
        second.start()
        stage.wait(lambda: pending_count(runtime) == 0, 60, "the second worker to converge")
        answered_before = len(proxy.answered)

        def late_writes() -> list[tuple[str, int]]:
            answered = proxy.answered[answered_before:]
            return [(m, status) for m, status in answered if m in WRITES and status < 300]

        held.released.set()  # the stale requests reach the server now
        first.process.send_signal(signal.SIGCONT)
        log = tmp_path / "worker-a.log"

        def lease_gone() -> bool:  # lost at a renewal, or lapsed first (its writes abandoned)
            text = log.read_text()
            return "calendar lease lost" in text or "calendar lease lapsed" in text

        stage.wait(lambda: lease_gone() or bool(late_writes()), 30,
                   "the first worker to find its lease lost (or to write)")
        stage.wait(lambda: held.done == held.held, 30, "the held writes to be answered")
        stage.wait(lambda: pending_count(runtime) == 0, 30, "quiet")
        assert late_writes() == []  # each stale write met a changed etag (412) and stopped
        assert stage.seen == []
        assert disagreements(runtime, server, path) == []
        events = list_events(server, path)
        assert len(events) == BOOKINGS
        assert not duplicates(events)
    finally:
        for worker in (first, second):
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGCONT)
                worker.terminate()

"""SIGKILL the worker at random moments: the calendars still end up exact."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from syncd.domain.bookings import BookingStatus
from syncd.runtime import Runtime
from syncd.store.models import Booking, Staff
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.e2e.conftest import (
    CALENDARS,
    WorkerProcess,
    pending_count,
    wait_until,
    write_config,
)
from tests.servers import DavServer

BOOKINGS = 300
KILLS = 4

pytestmark = pytest.mark.slow


def seed(runtime: Runtime, server: DavServer) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, server.collection_path(name))
        for i in range(BOOKINGS):
            f.book(session, f"b{i}", CALENDARS[i % len(CALENDARS)], f.slot(i))


def churn(runtime: Runtime, rng: random.Random) -> None:
    """Reschedule, move and cancel a few bookings while the worker runs."""
    with runtime.sessions.begin() as session:
        for i in rng.sample(range(BOOKINGS), 15):
            booking = session.scalar(select(Booking).where(Booking.key == f"b{i}"))
            assert booking is not None
            if booking.status == BookingStatus.CANCELLED:
                continue
            if i % 3 == 0:
                f.cancel(session, booking.key)
            else:
                f.book(session, booking.key, rng.choice(CALENDARS), f.slot(1000 + i))


def assert_calendars_exact(runtime: Runtime, server: DavServer) -> None:
    with runtime.sessions.begin() as session:
        bookings = list(session.scalars(select(Booking)))
        staff_keys = {s.id: s.key for s in session.scalars(select(Staff))}
    listed = {name: list_events(server, server.collection_path(name)) for name in CALENDARS}
    for name, events in listed.items():
        assert duplicates(events) == [], f"duplicate events on {name}"
    on_calendar = {e.uid: (name, e) for name, events in listed.items() for e in events}
    live = [b for b in bookings if b.status != BookingStatus.CANCELLED]
    assert len(on_calendar) == len(live)
    for booking in live:
        name, event = on_calendar[booking.uid]
        assert name == staff_keys[booking.staff_id]
        assert (event.start, event.end) == (booking.start, booking.end)


def test_worker_killed_repeatedly_leaves_one_event_per_live_booking(
    tmp_path: Path, family_server: DavServer, runtime_for: Callable[[Path], Runtime]
) -> None:
    server = family_server  # each family: moves between calendars of one account included
    config = write_config(
        tmp_path / "syncd.toml", f"sqlite:///{tmp_path}/syncd.db", server.connector_settings()
    )
    runtime = runtime_for(config)
    seed(runtime, server)
    rng = random.Random(20261121)
    worker = WorkerProcess(config, tmp_path / "worker.log")
    for _ in range(KILLS):
        before = pending_count(runtime)
        worker.start()
        wait_until(
            lambda before=before: pending_count(runtime) < before,  # type: ignore[misc]
            timeout=30,
            what="writes to begin",
        )
        time.sleep(rng.uniform(0.05, 0.5))
        churn(runtime, rng)
        worker.kill()
        assert pending_count(runtime) > 0, "the worker must be killed mid-run"
    worker.start()
    wait_until(lambda: pending_count(runtime) == 0, timeout=180, what="all mirrors converged")
    assert worker.terminate() == 0
    assert_calendars_exact(runtime, server)

"""Several worker processes share one PostgreSQL: leases keep every calendar's writes
within its limit, and a killed worker's calendars are taken over when its lease ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from syncd.domain.bookings import BookingStatus
from syncd.runtime import Runtime
from syncd.store.models import Booking, CalendarBinding, Mirror, Staff
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.dav_proxy import CountingProxy
from tests.dbs import postgres_schema_url
from tests.e2e.conftest import WorkerProcess, pending_count, wait_until, write_config
from tests.servers import RadicaleServer

CALENDARS = 60
BOOKINGS = 1000
WORKERS = 3
LEASE_SECONDS = 4.0
PER_CALENDAR = 4

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def many_calendars(own_radicale: RadicaleServer) -> RadicaleServer:
    for i in range(CALENDARS):
        own_radicale.create_collection(f"c{i}")
    return own_radicale


def seed(runtime: Runtime, server: RadicaleServer) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for i in range(CALENDARS):
            f.staff_with_calendar(session, shop, f"s{i}", server.collection_path(f"c{i}"))
        for i in range(BOOKINGS):
            f.book(session, f"b{i}", f"s{i % CALENDARS}", f.slot(i // CALENDARS))
        for i in range(0, BOOKINGS, 10):
            f.cancel(session, f"b{i}")


def calendars_with_work_leased_by(runtime: Runtime, pid: int) -> set[int]:
    """Bindings with pending mirrors whose lease names the worker process `pid`."""
    with runtime.sessions.begin() as session:
        pending = select(Mirror.binding_id).where(Mirror.pending.is_(True))
        rows = session.execute(
            select(CalendarBinding.id, CalendarBinding.lease_owner).where(
                CalendarBinding.id.in_(pending)
            )
        )
        return {i for i, owner in rows if owner and f":{pid}:" in owner}


def test_three_workers_share_the_calendars_and_survive_a_killed_one(
    tmp_path: Path,
    postgres_url: str,
    many_calendars: RadicaleServer,
    runtime_for: Callable[[Path], Runtime],
) -> None:
    with CountingProxy(many_calendars.url) as proxy:
        connector = many_calendars.connector_settings(
            url=proxy.url, concurrency_per_calendar=PER_CALENDAR
        )
        config = write_config(
            tmp_path / "syncd.toml",
            postgres_url,
            connector,
            lease_seconds=LEASE_SECONDS,
            calendars_in_parallel=8,
        )
        runtime = runtime_for(config)
        seed(runtime, many_calendars)
        workers = [WorkerProcess(config, tmp_path / f"worker{i}.log") for i in range(WORKERS)]
        for worker in workers:
            worker.start()
        victim = workers[0]
        for _ in range(2):
            assert victim.process is not None
            pid = victim.process.pid
            wait_until(
                lambda: bool(calendars_with_work_leased_by(runtime, pid)),  # noqa: B023
                120,
                "the victim to hold calendars with work",
            )
            victim.kill()
            wait_until(
                lambda: not calendars_with_work_leased_by(runtime, pid),  # noqa: B023
                120,
                "the killed worker's calendars taken over",
            )
            victim.start()
        # a SIGTERM before its handlers are installed (still importing) would end it with -15
        wait_until(lambda: victim.log.read_text(errors="replace").count("worker started") == 3,
                   60, "the restarted worker to be up")
        wait_until(lambda: pending_count(runtime) == 0, 600, "all mirrors converged")
        for worker in workers:
            assert worker.terminate() == 0
    assert max(proxy.peak.values()) <= PER_CALENDAR, dict(proxy.peak)
    assert_exactly_one_event_per_live_booking(runtime, many_calendars)


def assert_exactly_one_event_per_live_booking(runtime: Runtime, server: RadicaleServer) -> None:
    with runtime.sessions.begin() as session:
        bookings = list(session.scalars(select(Booking)))
        staff = {s.id: s.key for s in session.scalars(select(Staff))}
    events = {
        f"s{i}": list_events(server, server.collection_path(f"c{i}")) for i in range(CALENDARS)
    }
    assert not [d for listed in events.values() for d in duplicates(listed)]
    where = {e.uid: (name, e) for name, listed in events.items() for e in listed}
    live = [b for b in bookings if b.status != BookingStatus.CANCELLED]
    assert len(where) == len(live)
    for booking in live:
        name, event = where[booking.uid]
        assert (name, event.start, event.end) == (
            staff[booking.staff_id],
            booking.start,
            booking.end,
        )

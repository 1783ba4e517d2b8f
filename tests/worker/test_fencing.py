"""Fenced leases: a worker paused past its lease wakes to find it can record nothing, and
its stale write cannot win over the new owner's, on a real CalDAV server.

Worker A claims a booking's write, then stalls (as under SIGSTOP) past its lease;
the booking is moved, worker B takes the calendar over, writes, records, releases.
Whatever A does on waking, the calendar and the store agree on the booking's new time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from connectors.caldav import CalDAVConnector, Settings, build
from syncd.runtime import Runtime
from syncd.store import leases, tasks, work
from syncd.store.models import CalendarBinding, Mirror
from syncd.store.results import Success, record_successes
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from syncd.worker.converge import StaleTaskError, converge
from tests import factories as f
from tests.caldav_listing import list_events
from tests.contract.harness import unique_name
from tests.servers import RadicaleServer
from tests.worker.conftest import fast_settings

pytestmark = pytest.mark.anyio
FIRST, MOVED = f.slot(0), f.slot(3)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Salon:
    runtime: Runtime
    server: RadicaleServer
    connector: CalDAVConnector
    path: str
    binding_id: int = 0

    def claim(self, owner: str) -> tuple[leases.Lease, tasks.MirrorTask]:
        with self.runtime.sessions.begin() as session:
            claims = work.start_passes(
                session, [self.binding_id], owner, utcnow(), lease_seconds=60, limit=1
            )
        claim = claims[self.binding_id]
        return leases.Lease(owner, claim.generation), claim.tasks[0]

    def expire_lease(self) -> None:
        with self.runtime.sessions.begin() as session:
            past = utcnow() - timedelta(seconds=1)
            session.execute(update(CalendarBinding).values(lease_expires_at=past))

    def move_booking(self) -> None:
        with self.runtime.sessions.begin() as session:
            f.book(session, "b0", "alice", MOVED)

    def record(self, lease: leases.Lease, task: tasks.MirrorTask, outcome: work.Outcome) -> None:
        with self.runtime.sessions.begin() as session:
            record_successes(session, [Success(task.mirror_id, outcome, utcnow(), lease)])

    def release(self, lease: leases.Lease) -> None:
        with self.runtime.sessions.begin() as session:
            leases.release_lease(session, self.binding_id, lease.owner)

    def current(self, lease: leases.Lease, task: tasks.MirrorTask) -> bool:
        with self.runtime.sessions.begin() as session:
            return work.task_current(session, self.binding_id, lease, task)

    def mirror(self) -> Mirror:
        with self.runtime.sessions.begin() as session:
            mirror = session.get_one(Mirror, 1)
            session.expunge(mirror)
            return mirror

    def starts(self) -> list[datetime]:
        return [event.start for event in list_events(self.server, self.path)]


@pytest.fixture
async def salon(database_url: str, radicale: RadicaleServer) -> AsyncIterator[Salon]:
    settings = radicale.connector_settings()
    runtime = build_runtime(fast_settings(database_url, {"dav": settings}))
    upgrade(runtime.engine)
    found = Salon(runtime, radicale, build(Settings.model_validate(settings)),
                  radicale.create_collection(unique_name()))
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", found.path, connector="dav")
        f.book(session, "b0", "alice", FIRST)
        found.binding_id = session.get_one(Mirror, 1).binding_id
    yield found
    await found.connector.aclose()
    runtime.close()


async def _takeover(salon: Salon) -> leases.Lease:
    """A's lease lapses, the booking moves, B writes the new time, records it, releases."""
    salon.expire_lease()
    salon.move_booking()
    lease_b, task_b = salon.claim("worker-b")
    calendar = salon.connector.calendar(salon.path)
    outcome = await converge(calendar, task_b, lambda: _async(salon.current(lease_b, task_b)))
    salon.record(lease_b, task_b, outcome)
    salon.release(lease_b)
    return lease_b


async def _async(value: bool) -> bool:
    return value


async def test_a_paused_workers_write_after_the_takeover_is_refused(salon: Salon) -> None:
    lease_a, task_a = salon.claim("worker-a")
    lease_b = await _takeover(salon)
    assert lease_b.generation == lease_a.generation + 1
    calendar = salon.connector.calendar(salon.path)
    # A wakes: its create meets B's event (412), and its task is no longer current
    with pytest.raises(StaleTaskError):
        await converge(calendar, task_a, lambda: _async(salon.current(lease_a, task_a)))
    assert salon.starts() == [MOVED]
    with salon.runtime.sessions.begin() as session:  # nobody holds it: A still cannot renew
        assert not leases.renew_lease(session, salon.binding_id, lease_a, utcnow(), 60)


async def test_a_write_sent_before_the_pause_is_repaired_and_never_recorded(
    salon: Salon,
) -> None:
    lease_a, task_a = salon.claim("worker-a")
    calendar = salon.connector.calendar(salon.path)
    landed = await converge(calendar, task_a)  # sent, landed; then A stalls before recording
    await _takeover(salon)  # B's create meets A's event (412), re-reads it, writes the new time
    assert salon.starts() == [MOVED]
    salon.record(lease_a, task_a, landed)  # A wakes and records: fenced off
    mirror = salon.mirror()
    assert (mirror.pending, mirror.actual_version) == (False, 2)
    assert landed.ref is not None
    assert mirror.etag != landed.ref.etag


async def test_an_expired_lease_nobody_took_is_renewed_before_a_write(salon: Salon) -> None:
    """A worker whose heartbeat fell behind (the database was out) renews before writing:
    a lease merely expired is not taken by another worker in the middle of that write."""
    lease_a, task_a = salon.claim("worker-a")
    salon.expire_lease()
    with salon.runtime.sessions.begin() as session:
        renewal = work.renew_for_task(session, salon.binding_id, lease_a, task_a, utcnow(),
                                      lease_seconds=60)
    assert (renewal.renewed, renewal.current) == (True, True)
    with salon.runtime.sessions.begin() as session:
        taken = work.start_passes(
            session, [salon.binding_id], "worker-b", utcnow(), lease_seconds=60, limit=1
        )
    assert salon.binding_id not in taken
    salon.move_booking()  # the task goes stale: still renewed, no longer current
    with salon.runtime.sessions.begin() as session:
        renewal = work.renew_for_task(session, salon.binding_id, lease_a, task_a, utcnow(),
                                      lease_seconds=60)
    assert (renewal.renewed, renewal.current) == (True, False)

"""The worker against the in-memory connector: convergence logic without a server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from connectors.memory import MemoryConnector
from syncd.errors import FailureScope, PermanentError, TransientError
from syncd.reconcile.models import CalendarConflict
from syncd.runtime import Runtime
from syncd.schemas import BindingIn
from syncd.store.catalog import upsert_binding
from syncd.store.mirrors import retry_mirror
from syncd.store.models import Mirror, Staff
from syncd.store.work import claim_due, count_pending, record_failure
from syncd.timeutil import utcnow
from syncd.webhooks.emit import mirror_dead_lettered
from syncd.worker import Worker
from tests import factories as f


def seed(runtime: Runtime, bookings: int) -> None:
    with runtime.sessions.begin() as session:
        f.alice_and_bob(session, bookings)


async def run_until(
    runtime: Runtime,
    connector: MemoryConnector,
    done: Callable[[], Awaitable[bool] | bool],
    timeout: float = 10,
) -> Worker:
    worker, stop = Worker(runtime, {"local": connector}), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not await _call(done):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    return worker


async def _call(check: Callable[[], Awaitable[bool] | bool]) -> bool:
    result = check()
    return await result if isinstance(result, Awaitable) else result


def nothing_pending(runtime: Runtime) -> Callable[[], bool]:
    def check() -> bool:
        with runtime.sessions.begin() as session:
            return count_pending(session) == 0

    return check


def uids(connector: MemoryConnector, calendar: str) -> set[str | None]:
    return {e.booking_key for e in connector.calendar(calendar).events.values()}


def test_bookings_appear_move_and_vanish(memory_runtime: Runtime) -> None:
    connector = MemoryConnector()
    seed(memory_runtime, 10)
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    assert len(connector.calendar("/alice/").events) == 5
    assert len(connector.calendar("/bob/").events) == 5

    with memory_runtime.sessions.begin() as session:
        moved = f.book(session, "b1", "bob", f.slot(40))  # alice → bob, new time
        cancelled = f.cancel(session, "b3")
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))

    assert moved.uid not in uids(connector, "/alice/")
    assert cancelled.uid not in uids(connector, "/alice/")
    bob_events = {e.booking_key: e for e in connector.calendar("/bob/").events.values()}
    assert bob_events[moved.uid].start == f.slot(40)
    assert len(connector.calendar("/alice/").events) == 3


def test_lost_state_relinks_instead_of_duplicating(memory_runtime: Runtime) -> None:
    connector = MemoryConnector()
    seed(memory_runtime, 4)
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    with memory_runtime.sessions.begin() as session:
        for mirror in session.query(Mirror):
            mirror.remote_id, mirror.etag, mirror.actual_version = None, None, None
            mirror.pending = True
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    assert len(connector.calendar("/alice/").events) == 2
    assert len(connector.calendar("/bob/").events) == 2


class FlakyCalendarConnector(MemoryConnector):
    """Refuses the first `failures` creates with a whole-calendar outage."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def calendar(self, calendar_id: str):  # type: ignore[no-untyped-def]
        real = super().calendar(calendar_id)
        outer = self

        class Flaky(type(real)):  # type: ignore[misc]
            async def create(self, event):  # type: ignore[no-untyped-def]
                if outer.failures > 0:
                    outer.failures -= 1
                    raise TransientError("down", scope=FailureScope.CALENDAR)
                return await real.create(event)

        flaky = Flaky(calendar_id)
        flaky.events = real.events
        return flaky


def test_outage_pauses_calendar_without_spending_attempts(memory_runtime: Runtime) -> None:
    connector = FlakyCalendarConnector(failures=6)
    seed(memory_runtime, 6)
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    with memory_runtime.sessions.begin() as session:
        mirrors = list(session.query(Mirror))
    assert all(not m.dead and m.attempts == 0 for m in mirrors)
    assert len(connector.calendar("/alice/").events) == 3


class RefusingConnector(MemoryConnector):
    """Every create fails with `error` (a per-event failure, not an outage)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.attempts = 0

    def calendar(self, calendar_id: str):  # type: ignore[no-untyped-def]
        real = super().calendar(calendar_id)
        outer = self

        class Refusing(type(real)):  # type: ignore[misc]
            async def create(self, event):  # type: ignore[no-untyped-def]
                outer.attempts += 1
                raise outer.error

        refusing = Refusing(calendar_id)
        refusing.events = real.events
        return refusing


def dead_mirrors(runtime: Runtime) -> list[Mirror]:
    with runtime.sessions.begin() as session:
        return list(session.query(Mirror).filter(Mirror.dead.is_(True)))


def test_a_refused_create_of_a_live_booking_is_retried_then_shown_as_a_conflict(
    memory_runtime: Runtime,
) -> None:
    connector = RefusingConnector(PermanentError("HTTP 415"))
    seed(memory_runtime, 2)
    asyncio.run(
        run_until(memory_runtime, connector, lambda: len(dead_mirrors(memory_runtime)) == 2)
    )
    assert connector.attempts == 2 * memory_runtime.settings.worker.max_attempts
    assert all(
        "PermanentError: HTTP 415" in (m.last_error or "") for m in dead_mirrors(memory_runtime)
    )
    with memory_runtime.sessions.begin() as session:
        conflicts = list(session.scalars(select(CalendarConflict)))
        booking_ids = {m.booking_id for m in session.query(Mirror)}
        assert {(c.booking_id, c.kind, c.status) for c in conflicts} == {
            (booking_id, "missing", "open") for booking_id in booking_ids
        }


def test_transient_errors_dead_letter_after_max_attempts_then_retry_revives(
    memory_runtime: Runtime,
) -> None:
    connector = RefusingConnector(TransientError("HTTP 500"))
    seed(memory_runtime, 1)
    asyncio.run(
        run_until(memory_runtime, connector, lambda: len(dead_mirrors(memory_runtime)) == 1)
    )
    assert connector.attempts == memory_runtime.settings.worker.max_attempts
    with memory_runtime.sessions.begin() as session:
        retry_mirror(session, session.get(Mirror, dead_mirrors(memory_runtime)[0].id))
    healthy = MemoryConnector()
    healthy.calendars = connector.calendars
    asyncio.run(run_until(memory_runtime, healthy, nothing_pending(memory_runtime)))
    assert sum(len(c.events) for c in healthy.calendars.values()) == 1


def test_a_commit_wakes_the_worker_without_waiting_for_the_sweep(
    memory_runtime: Runtime,
) -> None:
    memory_runtime.settings.worker.sweep_interval_seconds = 3600
    connector = MemoryConnector()
    seed(memory_runtime, 0)

    async def book_while_idle() -> float:
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(memory_runtime, {"local": connector}).run(stop))
        await asyncio.sleep(0.3)  # the worker is asleep until the next sweep, an hour away
        with memory_runtime.sessions.begin() as session:
            f.book(session, "late", "alice", f.slot(1))
        started = time.perf_counter()
        async with asyncio.timeout(30):
            while not connector.calendar("/alice/").events:
                await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        stop.set()
        await worker
        return elapsed

    assert asyncio.run(book_while_idle()) < 5.0  # the sweep is an hour away


def test_a_failure_of_an_outdated_version_spends_no_attempt(memory_runtime: Runtime) -> None:
    seed(memory_runtime, 1)
    with memory_runtime.sessions.begin() as session:
        mirror = session.query(Mirror).one()
        (task,) = claim_due(session, mirror.binding_id, utcnow(), limit=10)
    with memory_runtime.sessions.begin() as session:
        f.book(session, "b0", "bob", f.slot(50))  # rescheduled while the write was failing
    with memory_runtime.sessions.begin() as session:
        record_failure(session, task, "TransientError: HTTP 500", utcnow(), dead=True,
                       report_dead=mirror_dead_lettered)
    with memory_runtime.sessions.begin() as session:
        mirror = session.get(Mirror, task.mirror_id)
        assert mirror is not None
        assert (mirror.dead, mirror.attempts) == (False, 0)


def test_a_new_binding_adopts_the_event_a_client_saved_under_its_own_name(
    memory_runtime: Runtime,
) -> None:
    connector = MemoryConnector()
    with memory_runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
        uid = f.book(session, "b0", "alice", f.slot(0)).uid
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    # The calendar bound next already holds the booking's event, under a client's name.
    (left,) = connector.calendar("/alice/").events.values()
    connector.calendar("/home/").events["/home/client-made.ics"] = left
    with memory_runtime.sessions.begin() as session:
        alice = session.scalars(select(Staff).where(Staff.key == "alice")).one()
        binding = BindingIn(connector="local", calendar_id="/home/")
        upsert_binding(session, alice, "home-cal", binding, {"local"})
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    home = connector.calendar("/home/").events
    assert list(home) == ["/home/client-made.ics"]
    assert home["/home/client-made.ics"].booking_key == uid
    with memory_runtime.sessions.begin() as session:
        remote_ids = {m.remote_id for m in session.query(Mirror)}
    assert remote_ids == {f"/alice/{uid}.ics", "/home/client-made.ics"}  # adopted

"""The worker's store calls made lean: leases and first claims in one go, results in bulk."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from connectors.base import RemoteRef
from syncd.runtime import Runtime
from syncd.store import leases, tasks, work
from syncd.store.db import read_transaction, transaction
from syncd.store.models import BindingState, CalendarBinding, Mirror, Presence
from syncd.store.results import Success, record_successes
from syncd.store.work import Outcome
from syncd.timeutil import utcnow
from tests import factories as f


def seed(runtime: Runtime, bookings: int) -> dict[str, int]:
    """Bookings alternating between alice's and bob's calendars; their binding ids."""
    with runtime.sessions.begin() as session:
        return f.alice_and_bob(session, bookings)


def lease(runtime: Runtime, binding_id: int, owner: str, seconds: float) -> None:
    with runtime.sessions.begin() as session:
        binding = session.get(CalendarBinding, binding_id)
        assert binding is not None
        binding.lease_owner, binding.lease_expires_at = owner, utcnow() + timedelta(seconds=seconds)


def start(runtime: Runtime, ids: list[int], limit: int = 10) -> dict[int, list[tasks.MirrorTask]]:
    with runtime.sessions.begin() as session:
        claims = work.start_passes(session, ids, "me", utcnow(), lease_seconds=60, limit=limit)
    return {binding_id: claim.tasks for binding_id, claim in claims.items()}


def test_start_passes_leases_only_free_calendars_and_claims_up_to_the_limit(
    memory_runtime: Runtime,
) -> None:
    ids = seed(memory_runtime, 8)
    lease(memory_runtime, ids["bob"], "other", 60)
    claims = start(memory_runtime, [ids["alice"], ids["bob"]], limit=3)
    assert list(claims) == [ids["alice"]]
    assert len(claims[ids["alice"]]) == 3
    with memory_runtime.sessions.begin() as session:
        mirrors = {m.id: m for m in session.scalars(select(Mirror))}
        alice = session.get(CalendarBinding, ids["alice"])
        assert alice is not None
        assert alice.lease_owner == "me"
    claimed = {task.mirror_id for task in claims[ids["alice"]]}
    # marked before any request leaves: a crash after the write cannot orphan the event
    assert {i for i, m in mirrors.items() if m.remote_may_exist} == claimed


def test_start_passes_takes_over_an_expired_lease(memory_runtime: Runtime) -> None:
    ids = seed(memory_runtime, 2)
    lease(memory_runtime, ids["bob"], "crashed", -1)
    assert list(start(memory_runtime, [ids["bob"]])) == [ids["bob"]]


def claim_one(runtime: Runtime, binding_id: int) -> tasks.MirrorTask:
    return start(runtime, [binding_id], limit=1)[binding_id][0]


def record(runtime: Runtime, task: tasks.MirrorTask) -> Mirror:
    outcome = Outcome(Presence.PRESENT, task.desired_version, RemoteRef("remote-1", '"e1"'))
    with runtime.sessions.begin() as session:
        record_successes(session, [Success(task.mirror_id, outcome, utcnow())])
    with runtime.sessions.begin() as session:
        mirror = session.get(Mirror, task.mirror_id)
        assert mirror is not None
        return mirror


def test_a_recorded_success_converges_the_mirror(memory_runtime: Runtime) -> None:
    ids = seed(memory_runtime, 1)
    mirror = record(memory_runtime, claim_one(memory_runtime, ids["bob"]))
    assert (mirror.pending, mirror.actual, mirror.remote_id, mirror.etag) == (
        False,
        Presence.PRESENT,
        "remote-1",
        '"e1"',
    )
    assert (mirror.attempts, mirror.last_error, mirror.remote_may_exist) == (0, None, True)


def test_a_success_for_an_outdated_version_leaves_the_mirror_pending(
    memory_runtime: Runtime,
) -> None:
    ids = seed(memory_runtime, 1)
    task = claim_one(memory_runtime, ids["bob"])
    with memory_runtime.sessions.begin() as session:
        f.book(session, "b0", "bob", f.slot(30))  # rescheduled while the write was under way
    mirror = record(memory_runtime, task)
    assert mirror.pending
    assert (mirror.actual_version, mirror.remote_id) == (task.desired_version, "remote-1")
    assert mirror.desired_version > task.desired_version


def test_a_recorded_removal_converges_a_mirror_that_wants_no_event(
    memory_runtime: Runtime,
) -> None:
    ids = seed(memory_runtime, 1)
    claim_one(memory_runtime, ids["bob"])  # a create was attempted: the event may exist
    with memory_runtime.sessions.begin() as session:
        f.cancel(session, "b0")
    task = claim_one(memory_runtime, ids["bob"])
    assert task.desired == Presence.ABSENT
    with memory_runtime.sessions.begin() as session:
        success = Success(task.mirror_id, Outcome(Presence.ABSENT, None, None), utcnow())
        record_successes(session, [success])
    with memory_runtime.sessions.begin() as session:
        mirror = session.get(Mirror, task.mirror_id)
        assert mirror is not None
        assert (mirror.pending, mirror.remote_may_exist, mirror.remote_id) == (False, False, None)



def has_due(runtime: Runtime, binding_id: int, busy: set[int], at_offset: float = 0) -> bool:
    now = utcnow() + timedelta(seconds=at_offset)
    with read_transaction(runtime.sessions) as session:
        return work.has_due(session, binding_id, now, busy)


def test_has_due_finds_due_mirrors_of_the_calendar_that_are_not_busy(
    memory_runtime: Runtime,
) -> None:
    ids = seed(memory_runtime, 4)  # two mirrors on each calendar
    with memory_runtime.sessions.begin() as session:
        rows = session.execute(select(Mirror.id, Mirror.binding_id)).all()
        bobs = {mirror_id for mirror_id, binding_id in rows if binding_id == ids["bob"]}
        later = utcnow() + timedelta(hours=1)
        session.execute(update(Mirror).values(next_attempt_at=later))
    assert not has_due(memory_runtime, ids["bob"], set())  # none due yet
    assert has_due(memory_runtime, ids["bob"], set(), at_offset=7200)
    assert has_due(memory_runtime, ids["bob"], {min(bobs)}, at_offset=7200)
    assert not has_due(memory_runtime, ids["bob"], bobs, at_offset=7200)  # all in flight
    with memory_runtime.sessions.begin() as session:
        session.execute(update(Mirror).where(Mirror.id.in_(bobs)).values(pending=False))
    assert not has_due(memory_runtime, ids["bob"], set(), at_offset=7200)  # all converged
    assert has_due(memory_runtime, ids["alice"], bobs, at_offset=7200)

def paused(runtime: Runtime, binding_id: int) -> CalendarBinding:
    with runtime.sessions.begin() as session:
        binding = session.get(CalendarBinding, binding_id)
        assert binding is not None
        return binding


def test_release_heals_only_a_calendar_this_worker_still_holds(memory_runtime: Runtime) -> None:
    ids = seed(memory_runtime, 0)
    with memory_runtime.sessions.begin() as session:
        until = utcnow() + timedelta(minutes=5)
        work.pause_binding(session, ids["bob"], until, "TransientError: down")
    lease(memory_runtime, ids["bob"], "other", 60)
    with memory_runtime.sessions.begin() as session:
        leases.release_lease(session, ids["bob"], "me", heal=True)
    assert paused(memory_runtime, ids["bob"]).state == BindingState.PAUSED
    lease(memory_runtime, ids["bob"], "me", 60)
    with memory_runtime.sessions.begin() as session:
        leases.release_lease(session, ids["bob"], "me", heal=True)
    binding = paused(memory_runtime, ids["bob"])
    assert (binding.state, binding.consecutive_failures, binding.paused_until) == (
        BindingState.OK,
        0,
        None,
    )
    assert binding.lease_owner is None


def test_a_reader_does_not_wait_for_a_writer(memory_runtime: Runtime) -> None:
    seed(memory_runtime, 3)
    seen: list[float] = []

    def read() -> None:
        started = time.perf_counter()
        with read_transaction(memory_runtime.sessions) as session:
            work.count_pending(session)
        seen.append(time.perf_counter() - started)

    with transaction(memory_runtime.sessions) as session:
        session.execute(update(Mirror).values(attempts=1))  # holds SQLite's write lock
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(10)
    assert seen, "the reader waited for the writer"
    assert seen[0] < 5

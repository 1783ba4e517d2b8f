"""A claim and a booking's change at the same moment, on PostgreSQL (read committed):
whichever takes the mirror's row first, the other sees what it did.

- The claim first: the change waits, then sees the mirror marked as possibly written,
  so a cancellation leaves it pending (the event the claim is writing gets deleted).
- The change first: the claim waits, then reads the mirror and its booking as they are
  after the change, never the mirror's new version with the booking's old times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy import select

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store import tasks, work
from syncd.store.models import CalendarBinding, Mirror, Presence
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.dbs import postgres_schema_url

FIRST, MOVED = f.slot(0), f.slot(5)
T = TypeVar("T")


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with postgres_schema_url() as url:
        settings = Settings.model_validate({
            "database": {"url": url},
            "connectors": {"local": {"kind": "memory"}},
        })
        found = build_runtime(settings)
        upgrade(found.engine)
        with found.sessions.begin() as session:
            shop = f.merchant(session)
            f.service(session, shop)
            f.staff_with_calendar(session, shop, "alice", "/alice/")
            f.book(session, "b1", "alice", FIRST)
        yield found
        found.close()


def binding_id(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return session.scalars(select(CalendarBinding.id)).one()


def in_thread(step: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(step()))
    thread.start()
    return thread, results


def test_a_cancellation_waiting_for_a_claim_sees_its_mark_and_stays_pending(
    runtime: Runtime,
) -> None:
    bound = binding_id(runtime)
    with runtime.sessions.begin() as claiming:
        claimed = work.claim_due(claiming, bound, utcnow(), 10)
        assert [t.desired for t in claimed] == [Presence.PRESENT]

        def cancel() -> int:
            with runtime.sessions.begin() as session:
                return f.cancel(session, "b1").version

        thread, _ = in_thread(cancel)
        thread.join(0.5)
        assert thread.is_alive()  # waits for the claim's lock on the mirror
    thread.join(10)
    with runtime.sessions.begin() as session:
        mirror = session.scalars(select(Mirror)).one()
        assert (mirror.desired, mirror.remote_may_exist) == (Presence.ABSENT, True)
        assert mirror.pending  # the event being written is still to be deleted


def test_a_claim_waiting_for_a_change_reads_the_booking_after_it(runtime: Runtime) -> None:
    bound = binding_id(runtime)
    with runtime.sessions.begin() as changing:
        moved = f.book(changing, "b1", "alice", MOVED)
        changing.flush()
        thread, results = in_thread(lambda: _claim(runtime, bound))
        thread.join(0.5)
        assert thread.is_alive()  # waits for the change's lock on the mirror
        version = moved.version
    thread.join(10)
    [task] = results[0]
    assert task.desired_version == version
    assert task.event is not None
    assert task.event.start == MOVED


def _claim(runtime: Runtime, bound: int) -> list[tasks.MirrorTask]:
    with runtime.sessions.begin() as session:
        return work.claim_due(session, bound, utcnow(), 10)

"""A worker with nothing it may do rests: calendars all paused (until the earliest pause
ends), or all leased by another worker (until a lease ends)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from connectors.memory import MemoryConnector
from syncd.runtime import Runtime
from syncd.store import work
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.worker.conftest import fast_settings

MEASURED_SECONDS = 3.0


@pytest.fixture
def slow_sweep_runtime(database_url: str) -> Iterator[Runtime]:
    settings = fast_settings(database_url, {"local": {"kind": "memory"}})
    settings.worker.sweep_interval_seconds = 10.0
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


def pause_every_calendar(runtime: Runtime, why: str) -> None:
    with runtime.sessions.begin() as session:
        ids = f.alice_and_bob(session, 6)
        for binding_id in ids.values():
            until = utcnow() + timedelta(hours=1)
            work.pause_binding(session, binding_id, until, why)


def lease_every_calendar_elsewhere(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        ids = f.alice_and_bob(session, 6)
        leased = work.start_passes(
            session, list(ids.values()), "another-worker", utcnow(), lease_seconds=3600, limit=0
        )
        assert set(leased) == set(ids.values())


class TransactionCount:
    def __init__(self, runtime: Runtime) -> None:
        self.count = 0
        event.listen(runtime.engine, "begin", self._begun)

    def _begun(self, _connection: Any) -> None:
        self.count += 1


async def transactions_per_second(runtime: Runtime) -> float:
    worker, stop = Worker(runtime, {"local": MemoryConnector()}), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            while worker.heartbeat.seconds_since() is None:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the first round's transactions are not the resting rate
        counter = TransactionCount(runtime)
        started = time.monotonic()
        await asyncio.sleep(MEASURED_SECONDS)
        return counter.count / (time.monotonic() - started)
    finally:
        stop.set()
        await task


@pytest.mark.parametrize("why", ["AuthError: token refused", "TransientError: retry after 3600s"])
def test_a_worker_whose_calendars_are_paused_makes_at_most_one_transaction_a_second(
    slow_sweep_runtime: Runtime, why: str
) -> None:
    pause_every_calendar(slow_sweep_runtime, why)
    rate = asyncio.run(transactions_per_second(slow_sweep_runtime))
    assert rate <= 1.0, f"{rate:.1f} transactions/s while every calendar is paused"


def test_a_worker_whose_calendars_another_worker_holds_makes_at_most_one_transaction_a_second(
    slow_sweep_runtime: Runtime,
) -> None:
    lease_every_calendar_elsewhere(slow_sweep_runtime)  # their reconcile passes are due, too
    rate = asyncio.run(transactions_per_second(slow_sweep_runtime))
    assert rate <= 1.0, f"{rate:.1f} transactions/s while another worker holds every calendar"

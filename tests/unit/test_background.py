"""The loop under the worker and the senders: wake-ups, the timed sleep, outages, shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy.exc import OperationalError

from syncd.background import BackgroundLoop
from syncd.wakeup import Waker


class Rounds(BackgroundLoop):
    """Counts its rounds; asks to sleep `sleep` seconds after each; fails as told."""

    name = "test loop"

    def __init__(self, sleep: float, failures: list[BaseException] | None = None) -> None:
        super().__init__(Waker(), owner="test")
        self.sleep = sleep
        self.failures = failures or []
        self.rounds = 0
        self.outages = 0
        self.shut_down = False
        self.counted = asyncio.Event()

    async def round(self, stop: asyncio.Event) -> float:
        self.rounds += 1
        self.counted.set()
        if self.failures:
            raise self.failures.pop(0)
        return self.sleep

    def after_outage(self) -> None:
        self.outages += 1

    async def shutdown(self) -> None:
        self.shut_down = True


async def rounds_after(service: Rounds, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while service.rounds < count:
        service.counted.clear()
        await asyncio.wait_for(service.counted.wait(), max(0.01, deadline - time.monotonic()))


def test_a_wake_up_starts_a_round_at_once_and_stop_shuts_down() -> None:
    async def scenario() -> tuple[int, float, bool]:
        service, stop = Rounds(sleep=60), asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        await rounds_after(service, 1)
        started = time.perf_counter()
        service.waker.wake()  # as a commit that queued work does
        await rounds_after(service, 2)
        woken_after = time.perf_counter() - started
        stop.set()
        await asyncio.wait_for(running, 5)
        return service.rounds, woken_after, service.shut_down and service.stopping.is_set()

    rounds, woken_after, shut_down = asyncio.run(scenario())
    assert rounds == 2
    assert woken_after < 1  # not the 60 s the round asked for
    assert shut_down


def test_unwoken_it_sleeps_as_long_as_the_round_asked() -> None:
    async def scenario() -> int:
        service, stop = Rounds(sleep=0.3), asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(running, 5)
        return service.rounds

    assert 3 <= asyncio.run(scenario()) <= 5


def test_an_outage_is_waited_out_and_a_bug_ends_the_service_after_its_shutdown() -> None:
    outage = OperationalError("SELECT 1", None, sqlite3.OperationalError("disk I/O error"))
    outage.orig.sqlite_errorname = "SQLITE_IOERR"  # type: ignore[union-attr]
    bug = ValueError("a bug")

    async def scenario() -> Rounds:
        failing = Rounds(sleep=0.01, failures=[outage, bug])
        with pytest.raises(ValueError, match="a bug"):
            await asyncio.wait_for(failing.run(asyncio.Event()), 10)
        return failing

    failing = asyncio.run(scenario())
    assert (failing.rounds, failing.outages, failing.shut_down) == (2, 1, True)


def test_a_round_that_outlasts_its_grace_on_stop_is_cancelled() -> None:
    class Stuck(Rounds):
        round_grace_seconds = 0.2

        async def round(self, stop: asyncio.Event) -> float:
            self.rounds += 1
            self.counted.set()
            await asyncio.sleep(60)
            return 0

    async def scenario() -> tuple[float, bool]:
        service, stop = Stuck(sleep=0), asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        await rounds_after(service, 1)
        started = time.perf_counter()
        stop.set()
        await asyncio.wait_for(running, 5)
        return time.perf_counter() - started, service.shut_down

    took, shut_down = asyncio.run(scenario())
    assert took < 2
    assert shut_down

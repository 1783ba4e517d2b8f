"""A write outlasting two thirds of an unrenewed lease is abandoned, so that it cannot land
after another worker took the calendar and looked; a renewed lease lets it finish."""

from __future__ import annotations

import asyncio
import time

import pytest

from syncd.worker.lease_guard import LeaseGuard, LeaseLapsedError

pytestmark = pytest.mark.anyio
LEASE = 0.6  # seconds: writes end 0.4 s after the last renewal at the latest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Write:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.finished, self.cancelled = seconds, False, False

    async def __call__(self) -> str:
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        return "written"


async def test_a_write_past_the_unrenewed_lease_is_abandoned_before_it_expires() -> None:
    renewed_at = time.monotonic()
    guard = LeaseGuard(LEASE, lambda: renewed_at)
    watching = asyncio.create_task(guard.watch())
    write = Write(5.0)
    started = time.monotonic()
    with pytest.raises(LeaseLapsedError):
        await guard.bounded(write())
    assert time.monotonic() - renewed_at < LEASE  # ended while nobody else could take it
    assert time.monotonic() - started >= LEASE * 2 / 3 - 0.05
    assert write.cancelled
    assert not write.finished
    await watching  # the watch ends with the lapse
    with pytest.raises(LeaseLapsedError):  # and no write starts after it
        await guard.bounded(Write(0.0)())


async def test_renewals_let_a_long_write_finish() -> None:
    renewed = [time.monotonic()]
    guard = LeaseGuard(LEASE, lambda: renewed[-1])
    watching = asyncio.create_task(guard.watch())

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(LEASE / 3)
            renewed.append(time.monotonic())

    beating = asyncio.create_task(heartbeat())
    write = Write(LEASE * 2)
    assert await guard.bounded(write()) == "written"
    assert not guard.lapsed.is_set()
    beating.cancel()
    watching.cancel()


async def test_a_failed_write_raises_its_own_error() -> None:
    guard = LeaseGuard(LEASE, time.monotonic)

    async def refused() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await guard.bounded(refused())


async def test_a_write_cancelled_from_outside_stays_cancelled() -> None:
    renewed_at = time.monotonic()
    guard = LeaseGuard(LEASE, lambda: renewed_at)
    watching = asyncio.create_task(guard.watch())
    write = Write(5.0)
    writing = asyncio.create_task(guard.bounded(write()))
    await asyncio.sleep(0.05)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert write.cancelled
    watching.cancel()


async def test_a_write_cancelled_from_outside_at_the_lapse_stays_cancelled() -> None:
    renewed_at = time.monotonic()
    guard = LeaseGuard(LEASE, lambda: renewed_at)
    write = Write(5.0)
    writing = asyncio.create_task(guard.bounded(write()))
    await asyncio.sleep(LEASE * 2 / 3)
    # The watch stepped by hand, so that the worker's own cancel (it stops) comes
    # between the lapse's and the write's next step.
    watching = guard.watch()
    watching.send(None)  # its sleep(0)
    with pytest.raises(StopIteration):
        watching.send(None)  # the lapse: the write is cancelled
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert write.cancelled

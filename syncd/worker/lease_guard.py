"""Writes end while their lease surely holds.

Another worker may take a calendar once its lease has expired, and from then
on it trusts what the store says is on the calendar: a create the store does
not know of yet, landing after that worker looked, would be left behind for
good. So a write still running two thirds of a lease after the last renewal
(the database out, the heartbeat failing) is abandoned, and the pass stops;
the last third is the margin for a request the server had already received.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class LeaseLapsedError(Exception):
    """The lease was not renewed in time: the write was abandoned."""


class LeaseGuard:
    def __init__(self, lease_seconds: float, renewed_at: Callable[[], float]) -> None:
        self._limit = lease_seconds * 2 / 3
        self._renewed_at = renewed_at  # the last renewal's start, on the monotonic clock
        self.lapsed = asyncio.Event()
        # The tasks inside `bounded`, cancelled at the lapse: a task and a wait of its own
        # per write cost more than the write's own share of a $batch.
        self._writing: set[asyncio.Task[Any]] = set()
        self._abandoned: set[asyncio.Task[Any]] = set()

    async def watch(self) -> None:
        """Until the lease goes unrenewed past the limit; then every bounded write ends."""
        while True:
            await asyncio.sleep(max(0.0, self._renewed_at() + self._limit - time.monotonic()))
            if time.monotonic() - self._renewed_at() >= self._limit:
                self.lapsed.set()
                for task in self._writing:
                    self._abandoned.add(task)
                    task.cancel()
                return

    async def bounded(self, write: Awaitable[T]) -> T:
        """`write`'s result, or LeaseLapsedError once the lease lapses before it ends.

        `write` runs in the calling task; at the lapse that task is cancelled and the
        cancellation becomes LeaseLapsedError here, unless the task was cancelled from
        elsewhere too (then it stays a cancellation).
        """
        if self.lapsed.is_set():
            if asyncio.iscoroutine(write):
                write.close()  # never started
            raise LeaseLapsedError
        task = asyncio.current_task()
        assert task is not None
        self._writing.add(task)
        try:
            return await write
        except asyncio.CancelledError:
            if task not in self._abandoned or task.uncancel() > 0:
                raise
            raise LeaseLapsedError from None
        finally:
            self._writing.discard(task)
            self._abandoned.discard(task)

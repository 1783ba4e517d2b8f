"""One run at a time of the same work: callers that ask while it runs share its answer.

A popular staff member's cached busy time goes stale for every customer at the
same moment. Without this, each listing then in flight would read the same
calendar again (on Microsoft 365, queueing behind the mailbox's 4-request limit)
and store the same answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        # per event loop: a task belongs to the loop it runs on
        self._flights: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[K, asyncio.Task[V]]] = (
            WeakKeyDictionary()
        )

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """`work()`'s answer, from the run in flight for `key` if there is one.

        A caller that gives up (cancelled, timed out) leaves the run going for the others.
        """
        flights = self._flights.setdefault(asyncio.get_running_loop(), {})
        task = flights.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            flights[key] = task
            task.add_done_callback(partial(_landed, flights, key))
        return await asyncio.shield(task)

    def in_flight(self) -> int:
        return sum(len(flights) for flights in self._flights.values())


def _landed(flights: dict[K, asyncio.Task[V]], key: K, task: asyncio.Task[V]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved here, so a run whose callers all gave up is not reported

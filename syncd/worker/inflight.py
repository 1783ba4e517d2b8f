"""A calendar's writes under way: at most its concurrency writing at once, each then recorded.

A calendar pass looks for more work when a write finishes, not after every
claim: what was due when it last looked is already under way, and a look
costs the database a transaction for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

T = TypeVar("T")


class InFlight:
    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._writing = 0
        self.written = 0  # writes finished so far
        self._progress = asyncio.Event()
        self._failure: BaseException | None = None  # the first record that failed

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def ids(self) -> set[int]:
        """The keys of the writes not yet recorded."""
        return set(self._tasks)

    async def take_slot(self) -> None:
        await self._slots.acquire()
        self._writing += 1

    def give_back_slot(self) -> None:
        self._writing -= 1
        self._slots.release()

    def start(self, key: int, write: Awaitable[T], record: Callable[[T], Awaitable[None]]) -> None:
        """Run `write` in the slot just taken, then `record` its result outside the slot."""
        task = asyncio.create_task(self._run(write, record))
        self._tasks[key] = task
        task.add_done_callback(partial(self._finished, key))

    def _finished(self, key: int, task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        # Kept for the pass: a failure (the database out while recording) must end it,
        # even when no gather was waiting for this task.
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    async def _run(self, write: Awaitable[T], record: Callable[[T], Awaitable[None]]) -> None:
        try:
            result = await write
        finally:
            self.give_back_slot()  # the next write goes before this one is recorded
            self.written += 1
            self._progress.set()
        await record(result)

    async def settle(self, written: int, within: float | None = None) -> None:
        """Until a write finishes after the first `written` had, or `within` seconds passed;
        none writing: all recorded."""
        while self._writing and self.written == written:
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), within)
            except TimeoutError:
                break
        if not self._writing:
            await self.drain()
        self._raise_failure()

    async def drain(self) -> None:
        await asyncio.gather(*self._tasks.values())
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def wait_for_all(self) -> None:
        """Until every write and its record ended, whether or not they failed."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

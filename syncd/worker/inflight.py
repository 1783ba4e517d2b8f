"""A calendar's writes under way: at most its concurrency writing at once, each then recorded.

A calendar pass looks for more work when a write finishes, not after every
claim: what was due when it last looked is already under way, and a look
costs the database a transaction for nothing.

A write's result is recorded outside its slot, by the worker's group commit,
which holds it back a moment while other writes are under way (`Underway`,
`record_linger`): one transaction then records several.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

T = TypeVar("T")
# How long a result waits for others to share its transaction. Alone, each cost the
# database threads about as much CPU as the request that made it (bench/scale.py);
# the calendar holds the event already, and only the store learns of it later.
RECORD_LINGER_SECONDS = 0.2


class Underway:
    """How many writes the whole worker has under way: results still to come."""

    def __init__(self) -> None:
        self.count = 0


def record_linger(underway: Underway, waiting: int) -> float:
    """A group of `waiting` results waits for more while more than that are on their way."""
    return RECORD_LINGER_SECONDS if underway.count > waiting else 0.0


class InFlight:
    def __init__(
        self,
        concurrency: int,
        underway: Underway | None = None,
        hurry: Callable[[], None] | None = None,
    ) -> None:
        self._underway = underway or Underway()
        self._hurry = hurry  # the group commit's: the pass waits for its results now
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
        self._underway.count += 1

    def give_back_slot(self) -> None:
        self._writing -= 1
        self._underway.count -= 1
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
        self._hurry_records()
        await asyncio.gather(*self._tasks.values())
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def wait_for_all(self) -> None:
        """Until every write and its record ended, whether or not they failed."""
        self._hurry_records()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _hurry_records(self) -> None:
        if self._tasks and self._hurry is not None:
            self._hurry()

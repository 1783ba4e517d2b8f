"""A calendar's writes in flight, and results recorded in groups: without a database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from syncd.store.group_commit import Recorder
from syncd.worker.inflight import InFlight


async def _start(writes: InFlight, key: int, done: asyncio.Event, recorded: list[int]) -> None:
    async def write() -> int:
        await done.wait()
        return key

    async def record(result: int) -> None:
        await asyncio.sleep(0.01)
        recorded.append(result)

    await writes.take_slot()
    writes.start(key, write(), record)


def test_settle_returns_when_a_write_finishes_while_others_still_write() -> None:
    async def scenario() -> tuple[set[int], list[int]]:
        writes, recorded = InFlight(2), []
        first, second = asyncio.Event(), asyncio.Event()
        await _start(writes, 1, first, recorded)
        await _start(writes, 2, second, recorded)
        first.set()
        await asyncio.wait_for(writes.settle(writes.written), 5)
        busy = writes.ids
        second.set()
        await writes.drain()
        return busy, recorded

    busy, recorded = asyncio.run(scenario())
    assert 2 in busy  # still writing when settle returned
    assert sorted(recorded) == [1, 2]


def test_settle_waits_for_every_result_to_be_recorded_once_nothing_writes() -> None:
    async def scenario() -> tuple[list[int], int]:
        writes, recorded = InFlight(2), []
        done = asyncio.Event()
        await _start(writes, 1, done, recorded)
        await _start(writes, 2, done, recorded)
        done.set()
        await asyncio.wait_for(writes.settle(0), 5)
        return recorded, len(writes)

    recorded, left = asyncio.run(scenario())
    assert (sorted(recorded), left) == ([1, 2], 0)


class _FakeThreads:
    """Runs a group transaction's function with a stand-in session, after a pause."""

    def __init__(self) -> None:
        self.transactions = 0

    async def run(self, fn: Any, *args: Any) -> Any:
        self.transactions += 1
        await asyncio.sleep(0.01)
        return fn(None, *args)


def test_items_of_one_kind_are_written_by_one_call_per_group() -> None:
    calls: list[list[int]] = []

    def write_all(_session: object, items: Sequence[int]) -> None:
        calls.append(list(items))

    async def scenario() -> int:
        threads = _FakeThreads()
        recorder = Recorder(threads)  # type: ignore[arg-type]
        await asyncio.gather(*(recorder.record_item(write_all, i) for i in range(5)))
        return threads.transactions

    transactions = asyncio.run(scenario())
    assert sorted(item for call in calls for item in call) == [0, 1, 2, 3, 4]
    assert len(calls) == transactions <= 2  # the first item alone, then the rest together


def test_a_record_that_failed_unawaited_ends_the_pass_at_the_next_settle() -> None:
    """The database out while recording: the failure reaches the pass, never an
    unretrieved task exception."""

    async def scenario() -> None:
        writes, refused, slow = InFlight(2), asyncio.Event(), asyncio.Event()

        async def write(key: int) -> int:
            return key

        async def record(result: int) -> None:
            if result == 1:
                refused.set()
                raise ConnectionError("the database is out")

        async def held(key: int) -> int:
            await slow.wait()
            return key

        await writes.take_slot()
        writes.start(1, write(1), record)
        await refused.wait()
        await asyncio.sleep(0)  # the failed task is done and gone from the writes
        assert writes.ids == set()
        await writes.take_slot()
        writes.start(2, held(2), record)
        slow.set()
        try:
            await asyncio.wait_for(writes.settle(writes.written), 5)
        except ConnectionError:
            return
        raise AssertionError("the failed record was lost")

    asyncio.run(scenario())

"""Group commit: what the queues' senders record, many writes to a transaction.

Every converged or failed mirror, every sent message and every delivery's
outcome must be recorded, but one transaction per calendar write, message or
POST would make the database, not the remote end, the bottleneck (and on
SQLite would queue behind every API transaction). Writes arriving while a
commit is under way are written together in the next one. Items of one kind
(`record_item`) are written by one call for all of them, e.g. one batched
statement (syncd/store/queue.py, `record_all`), after the transaction's other
writes. With `linger`, a group waits a moment for more when more are coming;
`hurry` cuts the wait short for a caller that cannot go on before its write is in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from syncd.store.dbthread import DatabaseThreads

R = TypeVar("R")
T = TypeVar("T")
Write = Callable[[Session], Any]
WriteAll = Callable[[Session, Sequence[T]], None]


@dataclass(frozen=True)
class _Item(Generic[T]):
    write_all: WriteAll[T]
    item: T


def _apply_all(session: Session, writes: list[Write | _Item[Any]]) -> list[Any]:
    results: list[Any] = []
    kinds: dict[WriteAll[Any], list[Any]] = {}
    for write in writes:
        if isinstance(write, _Item):
            kinds.setdefault(write.write_all, []).append(write.item)
            results.append(None)
        else:
            results.append(write(session))
    for write_all, items in kinds.items():
        write_all(session, items)
    return results


class Recorder:
    def __init__(self, db: DatabaseThreads, linger: Callable[[int], float] | None = None) -> None:
        self._db = db
        self._linger = linger  # given how many writes wait, how long to wait for more
        self._waiting: list[tuple[Write | _Item[Any], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._hurried = asyncio.Event()

    async def record(self, write: Callable[[Session], R]) -> R:
        """Run `write` in the next group transaction and return its result."""
        return await self._enqueue(write)  # type: ignore[no-any-return]

    async def record_item(self, write_all: WriteAll[T], item: T, *, hurry: bool = False) -> None:
        """Have `item` written in the next group transaction by one `write_all` call for all;
        with `hurry`, that transaction does not linger."""
        written = self._enqueue(_Item(write_all, item))
        if hurry:
            self.hurry()
        await written

    def _enqueue(self, write: Write | _Item[Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((write, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return future

    def hurry(self) -> None:
        """Commit what waits now, without lingering for more."""
        self._hurried.set()

    async def finish(self) -> None:
        """Wait for a commit under way; its failure was already told to its writers."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    async def _flush(self) -> None:
        while self._waiting:
            pause = self._linger(len(self._waiting)) if self._linger else 0.0
            if pause > 0 and not self._hurried.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurried.wait(), pause)
            self._hurried.clear()
            batch, self._waiting = self._waiting, []
            try:
                results = await self._db.run(_apply_all, [write for write, _ in batch])
            except Exception as error:  # every caller hears of the failed commit
                _settle(batch, error=error)
            else:
                _settle(batch, results=results)


def _settle(
    batch: list[tuple[Write | _Item[Any], asyncio.Future[Any]]],
    *,
    results: list[Any] | None = None,
    error: Exception | None = None,
) -> None:
    for index, (_, future) in enumerate(batch):
        if future.done():  # its caller was cancelled meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(results[index] if results else None)

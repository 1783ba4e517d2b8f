"""Group commit for the worker's results.

Every converged or failed mirror must be recorded, but one transaction per
calendar write would make the database, not the calendar, the bottleneck
(and on SQLite would queue behind every API transaction). Results arriving
while a commit is under way are written together in the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from syncd.worker.dbthread import DatabaseThreads

R = TypeVar("R")
Write = Callable[[Session], Any]


def _apply_all(session: Session, writes: list[Write]) -> list[Any]:
    return [write(session) for write in writes]


class Recorder:
    def __init__(self, db: DatabaseThreads) -> None:
        self._db = db
        self._waiting: list[tuple[Write, asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, write: Callable[[Session], R]) -> R:
        """Run `write` in the next group transaction and return its result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((write, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._db.run(_apply_all, [write for write, _ in batch])
            except Exception as error:  # every caller hears of the failed commit
                _settle(batch, error=error)
            else:
                _settle(batch, results=results)


def _settle(
    batch: list[tuple[Write, asyncio.Future[Any]]],
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

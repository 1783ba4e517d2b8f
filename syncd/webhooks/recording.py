"""Group commit for delivery outcomes.

One transaction per POST would make the database, not the endpoint, the
bottleneck (and on SQLite queue behind every API write). While other requests
are still in flight, an outcome waits a few milliseconds for theirs, and all
that arrived go into one transaction as a single executemany; a lone outcome
is committed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from syncd.store.dbthread import DatabaseThreads
from syncd.webhooks.queue import Outcome, record_outcomes

LINGER_SECONDS = 0.05  # what a booking's next event may wait, under load, for fewer commits


class OutcomeWriter:
    def __init__(self, db: DatabaseThreads, in_flight: Callable[[], int]) -> None:
        self._db = db
        self._in_flight = in_flight  # deliveries not yet recorded, these included
        self._waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, outcome: Outcome) -> None:
        """Return once `outcome` is committed; raise if its commit failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future

    async def finish(self) -> None:
        """Wait for a commit under way; its failure was already told to its writers."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    async def _flush(self) -> None:
        while self._waiting:
            if self._in_flight() > len(self._waiting):
                await asyncio.sleep(LINGER_SECONDS)
            batch, self._waiting = self._waiting, []
            try:
                await self._db.run(record_outcomes, [outcome for outcome, _ in batch])
            except Exception as error:  # every writer hears of the failed commit
                _settle(batch, error)
            else:
                _settle(batch, None)


def _settle(batch: list[tuple[Outcome, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():  # its writer was cancelled meanwhile
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

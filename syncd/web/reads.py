"""Page reads: on SQLite in the event loop itself, elsewhere in a worker thread.

Handing a read to a worker thread costs about 150 µs of CPU (the queue, the
thread's wake-up, the loop's wake-up); reading one row of a local SQLite file
by an indexed key costs about 10 µs. In WAL mode a reader never waits for a
writer, so the worker's transactions do not hold up the loop. The rare read
that would wait (a checkpoint resetting the log, recovery after a crash) fails
at once on the loop's connection, which has no busy timeout, and is retried in
a worker thread, where waiting is harmless.

`one` reads one statement; `run` runs synchronous work of several reads as one
snapshot (syncd.store.snapshots), and on a read that would wait runs all of it
again in a worker thread.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine

from syncd.store.prepared import Reader, Row, Statement
from syncd.store.snapshots import in_snapshot, prepared_reads, read_pooled

T = TypeVar("T")


class PageReads:
    def __init__(self, engine: Engine, limiter: CapacityLimiter) -> None:
        self.engine = engine
        self.limiter = limiter
        self._reads_in_loop = engine.dialect.name == "sqlite" and _is_file(engine)
        self._loop_connection: Any = None
        self._prepared = prepared_reads(engine)

    async def one(self, statement: Statement, parameters: Mapping[str, object]) -> Row | None:
        """The first row `statement` selects, or None; `statement` is built once and kept."""
        if self._reads_in_loop:
            read = self._prepared.of(statement)
            connection = self._loop_connection or await self._open_loop_connection()
            try:
                return read.one(connection, parameters)  # one statement: a snapshot of its own
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
        return await self._in_thread(lambda reader: reader.one(statement, parameters))

    async def run(self, work: Callable[[Reader], T]) -> T:
        """`work`'s reads as one snapshot; its statements are built once and kept."""
        if self._reads_in_loop:
            connection = self._loop_connection or await self._open_loop_connection()
            try:
                return in_snapshot(connection, self._prepared, work)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
        return await self._in_thread(work)

    async def _in_thread(self, work: Callable[[Reader], T]) -> T:
        return await anyio.to_thread.run_sync(read_pooled, self.engine, self._prepared, work,
                                              limiter=self.limiter)

    async def _open_loop_connection(self) -> Any:
        # Opened in a thread: opening sets WAL mode, which may wait for a lock.
        pooled = await anyio.to_thread.run_sync(self.engine.raw_connection)
        if self._loop_connection is not None:
            # Several first requests arrived together and another opened it meanwhile:
            # this one goes back to the pool, or each would hold a pooled connection for good.
            pooled.close()
            return self._loop_connection
        connection = pooled.dbapi_connection
        assert connection is not None
        connection.execute("PRAGMA busy_timeout=0")
        weakref.finalize(self, pooled.close)
        self._loop_connection = connection
        return connection


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY, or one of its extended codes (recovery, a snapshot gone stale)."""
    code: int | None = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _is_file(engine: Engine) -> bool:
    database = engine.url.database
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")

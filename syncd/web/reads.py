"""One-statement page reads: on SQLite in the event loop itself, elsewhere in a worker thread.

Handing a read to a worker thread costs about 150 µs of CPU (the queue, the
thread's wake-up, the loop's wake-up); reading one row of a local SQLite file
by an indexed key costs about 10 µs. In WAL mode a reader never waits for a
writer, so the worker's transactions do not hold up the loop. The rare read
that would wait (a checkpoint resetting the log, recovery after a crash) fails
at once on the loop's connection, which has no busy timeout, and is retried in
a worker thread, where waiting is harmless.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine, Select

from syncd.store.prepared import PreparedRead

Row = tuple[Any, ...]


class PageReads:
    def __init__(self, engine: Engine, limiter: CapacityLimiter) -> None:
        self.engine = engine
        self.limiter = limiter
        self._reads_in_loop = engine.dialect.name == "sqlite" and _is_file(engine)
        self._loop_connection: Any = None
        self._prepared: dict[int, PreparedRead] = {}

    async def one(self, statement: Select[Any], parameters: Mapping[str, object]) -> Row | None:
        """The first row `statement` selects, or None; `statement` is built once and kept."""
        read = self._prepared.get(id(statement))
        if read is None:
            read = self._prepared[id(statement)] = PreparedRead(statement, self.engine.dialect)
        if self._reads_in_loop:
            connection = self._loop_connection or await self._open_loop_connection()
            try:
                return read.one(connection, parameters)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
        return await anyio.to_thread.run_sync(self._pooled_one, read, parameters,
                                              limiter=self.limiter)

    def _pooled_one(self, read: PreparedRead, parameters: Mapping[str, object]) -> Row | None:
        connection = self.engine.raw_connection()
        try:
            return read.one(connection.dbapi_connection, parameters)
        finally:
            connection.close()  # back to the pool, its transaction rolled back

    async def _open_loop_connection(self) -> Any:
        # Opened in a thread: opening sets WAL mode, which may wait for a lock.
        pooled = await anyio.to_thread.run_sync(self.engine.raw_connection)
        connection = pooled.dbapi_connection
        assert connection is not None
        connection.execute("PRAGMA busy_timeout=0")
        weakref.finalize(self, pooled.close)
        if self._loop_connection is None:
            self._loop_connection = connection
        return connection


def _is_file(engine: Engine) -> bool:
    database = engine.url.database
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")

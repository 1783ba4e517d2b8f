"""Several prepared reads as one transaction on a pooled DBAPI connection.

Work that reads more than one statement (a slot listing's plan) is a
synchronous function of a `Reader`; whoever runs it decides where (a worker
thread here, the event loop in syncd.web.reads) and wraps it in a transaction
that only reads. On SQLite the connections do not begin transactions
themselves (syncd.store.db), so the snapshot is an explicit deferred BEGIN,
which in WAL mode never takes the write lock; on PostgreSQL the driver begins
one with the first statement. Either way it is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine

from syncd.store.prepared import PreparedReads, Reader

T = TypeVar("T")
_PREPARED: WeakKeyDictionary[Engine, PreparedReads] = WeakKeyDictionary()


class SnapshotReads(Protocol):
    """Runs synchronous read work as one transaction."""

    async def run(self, work: Callable[[Reader], T]) -> T: ...


def prepared_reads(engine: Engine) -> PreparedReads:
    """The engine's statements, each compiled once for its dialect."""
    prepared = _PREPARED.get(engine)
    if prepared is None:
        prepared = _PREPARED[engine] = PreparedReads(engine.dialect)
    return prepared


def in_snapshot(connection: Any, prepared: PreparedReads, work: Callable[[Reader], T]) -> T:
    """`work` on a SQLite DBAPI connection (outside any transaction), as one read snapshot."""
    connection.execute("BEGIN")
    try:
        return work(Reader(connection, prepared))
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def read_pooled(engine: Engine, prepared: PreparedReads, work: Callable[[Reader], T]) -> T:
    """`work` in one transaction on a connection from the engine's pool; for worker threads."""
    pooled = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            return in_snapshot(pooled.dbapi_connection, prepared, work)
        return work(Reader(pooled.dbapi_connection, prepared))
    finally:
        pooled.close()  # back to the pool, its transaction rolled back


class PooledReads:
    """Read work in a worker thread on a pooled connection, `limiter` many at once."""

    def __init__(self, engine: Engine, limiter: CapacityLimiter | None = None) -> None:
        self.engine = engine
        self.limiter = limiter

    async def run(self, work: Callable[[Reader], T]) -> T:
        return await anyio.to_thread.run_sync(
            read_pooled, self.engine, prepared_reads(self.engine), work, limiter=self.limiter
        )

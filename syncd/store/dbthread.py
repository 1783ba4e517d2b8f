"""Run blocking store functions off the event loop, each in its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import sessionmaker

from syncd.store.db import read_transaction, transaction
from syncd.store.session import SyncdSession

P = ParamSpec("P")
R = TypeVar("R")
# a transaction (store.db.transaction or read_transaction) of a session from the sessionmaker
Unit = Callable[[sessionmaker[SyncdSession]], AbstractContextManager[SyncdSession]]


class DatabaseThreads:
    """A pool of threads, each running a function in a transaction of a process's session."""

    def __init__(self, sessions: sessionmaker[SyncdSession], threads: int = 4) -> None:
        self._sessions = sessions
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="syncd-db")

    async def run(
        self, fn: Callable[Concatenate[SyncdSession, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return await self._in_thread(transaction, lambda session: fn(session, *args, **kwargs))

    async def read(
        self, fn: Callable[Concatenate[SyncdSession, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Like `run` for a function that only reads: it never waits for SQLite's write lock."""
        return await self._in_thread(read_transaction, lambda session: fn(session, *args, **kwargs))

    async def _in_thread(self, unit: Unit, work: Callable[[SyncdSession], R]) -> R:
        def in_unit() -> R:
            with unit(self._sessions) as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self._pool, in_unit)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

"""Run blocking store functions off the event loop, each in its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import sessionmaker

from syncd.store.db import read_transaction, transaction
from syncd.store.session import SyncdSession

P = ParamSpec("P")
R = TypeVar("R")


class DatabaseThreads:
    """A pool of threads, each running a function in a transaction of a process's session."""

    def __init__(self, sessions: sessionmaker[SyncdSession], threads: int = 4) -> None:
        self._sessions = sessions
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="syncd-db")

    async def run(
        self, fn: Callable[Concatenate[SyncdSession, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        loop = asyncio.get_running_loop()
        call: Callable[[], R] = partial(self._in_transaction, fn, *args, **kwargs)
        return await loop.run_in_executor(self._pool, call)

    async def read(
        self, fn: Callable[Concatenate[SyncdSession, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Like `run` for a function that only reads: it never waits for SQLite's write lock."""
        loop = asyncio.get_running_loop()
        call: Callable[[], R] = partial(self._in_read_transaction, fn, *args, **kwargs)
        return await loop.run_in_executor(self._pool, call)

    def _in_transaction(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        with transaction(self._sessions) as session:
            return fn(session, *args, **kwargs)

    def _in_read_transaction(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        with read_transaction(self._sessions) as session:
            return fn(session, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

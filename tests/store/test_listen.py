"""On PostgreSQL a commit in one process wakes the loops of another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.listen import listen_for_wakeups
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests import factories as f
from tests.dbs import postgres_database_url


@pytest.fixture
def two_processes() -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database of their own (no other test's commits notify them):
    each has its own Waker, as separate processes do."""
    with postgres_database_url() as url:
        settings = Settings.model_validate(
            {"database": {"url": url}, "connectors": {"local": {"kind": "memory"}}}
        )
        web, worker = build_runtime(settings), build_runtime(settings)
        upgrade(web.engine)
        yield web, worker
        web.close()
        worker.close()


def book(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
        f.book(session, "b1", "alice", f.slot(0))


def test_a_commit_elsewhere_wakes_this_process(two_processes: tuple[Runtime, Runtime]) -> None:
    web, worker = two_processes

    async def scenario() -> float:
        stop, woken = asyncio.Event(), asyncio.Event()
        worker.waker.attach(asyncio.get_running_loop(), woken)
        listener = asyncio.create_task(
            listen_for_wakeups(worker.settings.database.url, worker.waker, stop)
        )
        await asyncio.wait_for(woken.wait(), timeout=30)  # listening: it wakes once on start
        woken.clear()
        started = time.perf_counter()
        await asyncio.to_thread(book, web)
        await asyncio.wait_for(woken.wait(), timeout=5)
        elapsed = time.perf_counter() - started
        stop.set()
        await listener
        return elapsed

    assert asyncio.run(scenario()) < 2.0  # the sweep would take an hour


def test_a_commit_without_news_sends_nothing(two_processes: tuple[Runtime, Runtime]) -> None:
    web, worker = two_processes

    async def scenario() -> bool:
        stop, woken = asyncio.Event(), asyncio.Event()
        worker.waker.attach(asyncio.get_running_loop(), woken)
        listener = asyncio.create_task(
            listen_for_wakeups(worker.settings.database.url, worker.waker, stop)
        )
        await asyncio.wait_for(woken.wait(), timeout=30)  # listening: it wakes once on start
        woken.clear()
        with web.sessions.begin() as session:
            f.merchant(session)
        await asyncio.sleep(1.0)
        stop.set()
        await listener
        return woken.is_set()

    assert not asyncio.run(scenario())


def test_a_listener_whose_connection_is_cut_listens_again(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    web, worker = two_processes

    async def scenario() -> float:
        stop, woken = asyncio.Event(), asyncio.Event()
        worker.waker.attach(asyncio.get_running_loop(), woken)
        listener = asyncio.create_task(
            listen_for_wakeups(worker.settings.database.url, worker.waker, stop)
        )
        await asyncio.wait_for(woken.wait(), timeout=30)  # listening: it wakes once on start
        woken.clear()
        await asyncio.to_thread(cut_listeners, web)
        await asyncio.wait_for(woken.wait(), timeout=5)  # the loss: something may be missed
        woken.clear()
        await asyncio.wait_for(woken.wait(), timeout=10)  # listening again
        woken.clear()
        started = time.perf_counter()
        await asyncio.to_thread(book, web)
        await asyncio.wait_for(woken.wait(), timeout=5)
        elapsed = time.perf_counter() - started
        stop.set()
        await listener
        return elapsed

    assert asyncio.run(scenario()) < 2.0


def cut_listeners(runtime: Runtime) -> None:
    """Ends the server side of every connection listening on this database."""
    with runtime.engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND query LIKE 'LISTEN%'"
            )
        )

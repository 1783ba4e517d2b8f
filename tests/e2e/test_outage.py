"""The calendar server goes away mid-run: everything converges when it returns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.serve import build_connectors
from syncd.store.models import Mirror
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.e2e.conftest import CALENDARS, pending_count
from tests.servers import RadicaleServer

BOOKINGS = 200
OUTAGE_SECONDS = 6.0

pytestmark = pytest.mark.slow


def outage_runtime(tmp_path: Path, server: RadicaleServer) -> Runtime:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path}/syncd.db"},
            # Few attempts and short backoff: an outage that spent mirror attempts
            # would dead-letter them long before the server came back.
            "worker": {
                "max_attempts": 3,
                "backoff_base_seconds": 0.1,
                "backoff_max_seconds": 1.0,
                "sweep_interval_seconds": 1.0,
            },
            "connectors": {"local": server.connector_settings(timeout_seconds=2)},
        }
    )
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, server.collection_path(name))
    return runtime


def book_all(runtime: Runtime, first: int, last: int) -> None:
    with runtime.sessions.begin() as session:
        for i in range(first, last):
            f.book(session, f"b{i}", CALENDARS[i % len(CALENDARS)], f.slot(i))


async def run_with_outage(runtime: Runtime, server: RadicaleServer) -> None:
    connectors = build_connectors(runtime)
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(runtime, connectors).run(stop))
    await asyncio.to_thread(book_all, runtime, 0, BOOKINGS // 2)
    while pending_count(runtime) > BOOKINGS // 4:
        await asyncio.sleep(0.02)
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(book_all, runtime, BOOKINGS // 2, BOOKINGS)
    await asyncio.sleep(OUTAGE_SECONDS)
    assert pending_count(runtime) > 0, "the outage must leave work undone"
    await asyncio.to_thread(server.start)
    async with asyncio.timeout(60):
        while pending_count(runtime):
            await asyncio.sleep(0.1)
    stop.set()
    await worker
    await asyncio.gather(*(c.aclose() for c in connectors.values()))


def pauses() -> float:
    return REGISTRY.get_sample_value("syncd_calendar_pauses_total", {"connector": "caldav"}) or 0.0


def test_server_outage_converges_without_dead_letters(
    tmp_path: Path, dav_server: RadicaleServer
) -> None:
    runtime = outage_runtime(tmp_path, dav_server)
    pauses_before = pauses()
    try:
        asyncio.run(run_with_outage(runtime, dav_server))
        with runtime.sessions.begin() as session:
            mirrors = list(session.scalars(select(Mirror)))
    finally:
        runtime.close()
    assert pauses() > pauses_before, "the calendar was paused during the outage"
    assert not [m for m in mirrors if m.dead]
    assert all(m.last_error is None for m in mirrors)
    events = [
        e for name in CALENDARS for e in list_events(dav_server, dav_server.collection_path(name))
    ]
    assert duplicates(events) == []
    assert len(events) == BOOKINGS

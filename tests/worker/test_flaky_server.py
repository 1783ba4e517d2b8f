"""A CalDAV server behind a proxy that fails 7 % of requests at random (a reset, a 503, a
timeout): each failure backs off its one event, the calendars go on, and the bookings
reach them within twice the time they take without faults (both measured here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from connectors.base import Connector
from connectors.caldav import Settings, build
from syncd.config import Settings as SyncdSettings
from syncd.runtime import Runtime
from syncd.store.catalog import get_merchant
from syncd.store.models import CalendarBinding
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.caldav_listing import duplicates, list_events
from tests.contract.harness import unique_name
from tests.dav_proxy import CountingProxy, RandomFaults
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio

CALENDARS = 2
PER_CALENDAR = 80
FAILURE_RATE = 0.07
# A server some way off, so that the fault-free time is several seconds: a failed event
# costs at least one timeout plus one backoff, which a run of a second could never absorb.
LATENCY = 0.3
TIMEOUT = 1.5  # the connector's; a request the proxy holds longer times out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def faults() -> RandomFaults:
    return RandomFaults(TIMEOUT, FAILURE_RATE)


@pytest.fixture
async def flaky(radicale: RadicaleServer, faults: RandomFaults) -> AsyncIterator[Connector]:
    with CountingProxy(radicale.url, latency_seconds=LATENCY, fault=faults) as proxy:
        settings = radicale.connector_settings(url=proxy.url, timeout_seconds=TIMEOUT)
        connector = build(Settings.model_validate(settings))
        yield connector
        await connector.aclose()


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = SyncdSettings.model_validate({
        "database": {"url": database_url},
        "worker": {"sweep_interval_seconds": 0.5, "backoff_base_seconds": 0.5,
                   "backoff_max_seconds": 10.0, "shutdown_timeout_seconds": 2},
        "reconcile": {"enabled": False},
        "connectors": {"dav": {"kind": "caldav", "url": "http://127.0.0.1:1/"}},
    })
    found = build_runtime(settings)
    upgrade(found.engine)
    yield found
    found.close()


def seed(runtime: Runtime, server: RadicaleServer, prefix: str) -> list[str]:
    """CALENDARS new calendars with PER_CALENDAR bookings each; their paths."""
    paths = [server.create_collection(unique_name(prefix)) for _ in range(CALENDARS)]
    with runtime.sessions.begin() as session:
        if prefix == "clean":
            f.service(session, f.merchant(session))
        for i, path in enumerate(paths):
            f.staff_with_calendar(session, get_merchant(session, "acme"), f"{prefix}{i}", path,
                                  "dav")
            for n in range(PER_CALENDAR):
                f.book(session, f"{prefix}{i}-{n}", f"{prefix}{i}", f.slot(n))
    return paths


async def converge_seconds(runtime: Runtime, connector: Connector) -> float:
    """How long the worker takes until nothing is pending."""
    stop, started = asyncio.Event(), time.monotonic()
    task = asyncio.create_task(Worker(runtime, {"dav": connector}).run(stop))
    try:
        async with asyncio.timeout(120):
            while _pending(runtime):
                await asyncio.sleep(0.02)
        return time.monotonic() - started
    finally:
        stop.set()
        await task


def pauses() -> float:
    return REGISTRY.get_sample_value("syncd_calendar_pauses_total", {"connector": "caldav"}) or 0.0


def _pending(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return count_pending(session)


async def test_random_request_failures_cost_less_than_the_fault_free_time_again(
    runtime: Runtime, radicale: RadicaleServer, flaky: Connector, faults: RandomFaults
) -> None:
    seed(runtime, radicale, "clean")
    clean = await converge_seconds(runtime, flaky)
    faulty_paths = seed(runtime, radicale, "faulty")
    faults.on, pauses_before = True, pauses()
    faulty = await converge_seconds(runtime, flaky)
    faults.on = False
    assert pauses() == pauses_before  # each failure backed off its event, no calendar
    assert sum(faults.counts.values()) >= 3, faults.counts  # the faults did happen
    for path in faulty_paths:
        events = list_events(radicale, path)
        assert len(events) == PER_CALENDAR
        assert not duplicates(events)
    assert faulty <= 2 * clean, f"{faulty:.2f}s with faults, {clean:.2f}s without"


async def test_a_server_failing_every_request_pauses_the_calendar(
    runtime: Runtime, radicale: RadicaleServer, flaky: Connector, faults: RandomFaults
) -> None:
    seed(runtime, radicale, "clean")
    faults.on, faults.rate = True, 1.0
    pauses_before, stop = pauses(), asyncio.Event()
    task = asyncio.create_task(Worker(runtime, {"dav": flaky}).run(stop))
    try:
        async with asyncio.timeout(60):
            while pauses() < pauses_before + CALENDARS:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    with runtime.sessions.begin() as session:
        states = session.scalars(select(CalendarBinding.state)).all()
    assert states == ["paused"] * CALENDARS
    assert sum(faults.counts.values()) < CALENDARS * PER_CALENDAR  # not one try per event

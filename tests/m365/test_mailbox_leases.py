"""Outlook's 4 concurrent requests per mailbox hold across workers: a mailbox's calendars
are leased together (syncd/store/leases.py), whichever worker takes the first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from syncd.reconcile.state import PASSES
from syncd.schemas import BindingIn
from syncd.store.catalog import upsert_binding
from syncd.store.leases import assign_lease_keys
from syncd.store.models import CalendarBinding, Staff
from syncd.store.work import due_bindings, start_passes
from syncd.timeutil import utcnow
from syncd.worker import Worker
from tests.graph import GraphDouble
from tests.m365.world import World, make_world

pytestmark = pytest.mark.timeout(300)
MAILBOXES = 3
BOOKINGS = 12  # per staff member, so 24 writes per mailbox: batches fill all 4 places
WORKERS = 3


def bind_second_calendar(world: World, staff_key: str) -> None:
    """A second binding of the staff member's mailbox: another calendar in it."""
    mailbox = world.mailboxes[staff_key]
    other = world.double.add_calendar(mailbox, "Bookings")
    with world.runtime.sessions.begin() as session:
        staff = session.scalar(select(Staff).where(Staff.key == staff_key))
        assert staff is not None
        data = BindingIn(connector="graph", calendar_id=f"{mailbox}/{other}")
        upsert_binding(session, staff, "second", data, {"graph"})


async def run_workers(world: World, count: int) -> None:
    """`count` workers, each with connectors (and so per-mailbox limits) of its own,
    as separate processes have; until every mirror is written."""
    connectors = [world.connectors() for _ in range(count)]
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(Worker(world.runtime, c, owner=f"w{i}").run(stop))
        for i, c in enumerate(connectors)
    ]
    try:
        async with asyncio.timeout(120):
            while not await asyncio.to_thread(world.converged):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        for mine in connectors:
            for connector in mine.values():
                await connector.aclose()


def test_three_workers_keep_four_requests_per_mailbox_of_two_bindings(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    # One calendar at a time per worker: the three take three calendars, so with
    # leases per calendar two of them would write to one mailbox at once.
    world = make_world(double, database_url, tmp_path, calendars_in_parallel=1)
    staff = [f"s{i}" for i in range(MAILBOXES)]
    for key in staff:  # a mailbox's two bindings side by side: workers take them in turn
        world.add_staff([key])
        bind_second_calendar(world, key)
    world.book([(f"b{key}-{n}", key, n) for key in staff for n in range(BOOKINGS)])
    double.latency_seconds = 0.2  # the workers' requests overlap
    asyncio.run(run_workers(world, WORKERS))
    peaks = {upn: double.stats.peak_in_flight[upn] for upn in world.mailboxes.values()}
    assert set(peaks.values()) == {4}, peaks
    assert double.stats.throttled == 0
    for key in staff:
        assert len(world.events(key)) == 2 * BOOKINGS
    world.runtime.close()


def test_a_mailbox_held_by_one_worker_is_left_whole_to_it(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    world = make_world(double, database_url, tmp_path)
    world.add_staff(["anna"])
    bind_second_calendar(world, "anna")
    first, second = binding_ids(world)
    with world.runtime.sessions.begin() as session:
        assign_lease_keys(session, {first: "graph:mailbox:anna", second: "graph:mailbox:anna"})
        assert list(start_passes(session, [first], "w1", utcnow(), lease_seconds=60, limit=0))
    with world.runtime.sessions.begin() as session:
        assert due_bindings(session, "w2", utcnow(), 10, passes=PASSES) == []
        assert start_passes(session, [second], "w2", utcnow(), lease_seconds=60, limit=0) == {}
        assert list(start_passes(session, [second], "w1", utcnow(), lease_seconds=60, limit=0))
    world.runtime.close()


def binding_ids(world: World) -> list[int]:
    with world.runtime.sessions.begin() as session:
        return list(session.scalars(select(CalendarBinding.id).order_by(CalendarBinding.id)))

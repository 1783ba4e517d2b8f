"""What a pass sees: double bookings, refused cursors, replays, lost links, and when passes run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from syncd.reconcile.busy import observed_busy
from syncd.reconcile.models import ReconcileState
from syncd.store.models import Mirror, Staff
from syncd.timeutil import utcnow
from syncd.worker import Worker
from tests.reconcile.hands import MemoryHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for

pytestmark = pytest.mark.anyio
HALF = timedelta(minutes=30)


def busy_of_alice(shop: Shop) -> list[tuple[object, object]]:
    with shop.runtime.sessions.begin() as session:
        alice = session.scalars(select(Staff)).one()
        found = observed_busy(session, alice.id, START - HOUR * 24, START + HOUR * 24)
        return [(i.start, i.end) for i in found]


async def test_a_busy_event_over_a_booking_is_a_double_booking(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    await shop.settle()
    dentist = await shop.hands.add_foreign(shop.calendar_id, "dentist", START + HALF,
                                           START + HOUR + HALF)
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    assert (conflict.kind, conflict.remote_id) == ("overlap", dentist)
    assert conflict.calendar_side["start"] == (START + HALF).isoformat()
    assert ("conflict_notice", "merchant") in shop.messages()
    assert shop.webhook_types()[-1] == "conflict.detected"
    assert busy_of_alice(shop) == [(START + HALF, START + HOUR + HALF)]
    assert await shop.event_times("b1") == (START, START + HOUR), "nothing else changes"

    await shop.watch_again()
    assert len(shop.conflicts()) == 1, "seen again, it stays one conflict"

    await shop.hands.delete(shop.calendar_id, dentist)
    await shop.watch_again()
    (closed,) = shop.conflicts()
    assert (closed.status, closed.resolution) == ("resolved", "cleared")
    assert busy_of_alice(shop) == []


async def test_a_transparent_event_never_conflicts(shop: Shop) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    await shop.hands.add_foreign(shop.calendar_id, "note", START, START + HOUR, busy=False)
    await shop.watch_again()
    assert shop.conflicts() == []
    assert busy_of_alice(shop) == []
    assert [m for m in shop.messages() if m[0] == "conflict_notice"] == []


async def test_a_booking_moved_onto_busy_time_is_found_too(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    await shop.hands.add_foreign(shop.calendar_id, "gym", START + 4 * HOUR, START + 5 * HOUR)
    await shop.settle()
    assert shop.conflicts() == []
    shop.book("b1", START + 4 * HOUR)  # the platform moves it onto the gym
    await shop.watch_again()
    assert [c.kind for c in shop.open_conflicts()] == ["overlap"]


@pytest.mark.parametrize("rule", ["booking_wins", "flag"])
async def test_a_refused_cursor_lists_everything_again(shop: Shop, rule: str) -> None:
    shop.seed(rule)
    shop.book("b1")
    shop.book("b2", START + 3 * HOUR)
    await shop.settle()
    cursor = shop.state().cursor
    assert cursor is not None
    await shop.hands.move(shop.calendar_id, shop.href("b1"), START + HOUR, START + 2 * HOUR)
    await shop.hands.delete(shop.calendar_id, shop.href("b2"))
    shop.set_cursor(shop.hands.refused_cursor(shop.calendar_id, cursor))
    await shop.watch_again()
    state = shop.state()
    assert state.last_reset_reason
    assert state.cursor not in (None, cursor)
    kinds = {(c.kind, c.status) for c in shop.conflicts()}
    if rule == "flag":
        assert kinds == {("moved", "open"), ("missing", "open")}
        assert await shop.event_times("b1") == (START + HOUR, START + 2 * HOUR)
    else:
        assert kinds == {("moved", "resolved"), ("missing", "resolved")}
        assert await shop.event_times("b1") == (START, START + HOUR)
        assert await shop.event_times("b2") == (START + 3 * HOUR, START + 4 * HOUR)


async def test_replayed_changes_are_harmless(shop: Shop) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    old = shop.state().cursor
    await shop.hands.move(shop.calendar_id, shop.href("b1"), START + HOUR, START + 2 * HOUR)
    dentist = await shop.hands.add_foreign(shop.calendar_id, "dentist", START, START + HOUR)
    await shop.watch_again()
    before = (shop.conflicts(), shop.messages(), shop.webhook_types())
    for _ in range(2):  # the same changes again, as after a crash before the commit
        shop.set_cursor(old)
        await shop.watch_again()
    after = (shop.conflicts(), shop.messages(), shop.webhook_types())
    assert [(c.id, c.kind, c.status) for c in after[0]] == [
        (c.id, c.kind, c.status) for c in before[0]
    ]
    assert after[1:] == before[1:]
    assert {c.remote_id for c in shop.open_conflicts() if c.kind == "overlap"} == {dentist}


async def test_an_event_found_again_by_its_uid_is_relinked(shop: Shop) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    href = shop.href("b1")
    with shop.runtime.sessions.begin() as session:  # as if syncd had lost the link
        mirror = session.scalars(select(Mirror)).one()
        mirror.remote_id, mirror.etag = None, None
        session.get_one(ReconcileState, mirror.binding_id).cursor = None
    await shop.watch_again()
    assert shop.href("b1") == href
    assert shop.conflicts() == []


async def test_passes_come_round_by_themselves(tmp_path: object) -> None:
    hands = MemoryHands()
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands,
                                    interval_seconds=0.2))
    try:
        shop = Shop(runtime, hands, hands.new_calendar())
        shop.seed("flag")
        shop.book("b1")
        worker, stop = Worker(runtime, {"cal": hands.connector}), asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(10):
                await _until(lambda: _passes(shop) >= 1 and _mirrored(shop))
                first = _passes(shop)
                calendar = hands.connector.calendar(shop.calendar_id)
                calendar.edit_event(shop.href("b1"), start=START + HOUR, end=START + 2 * HOUR)
                await _until(lambda: bool(shop.conflicts()))  # nobody asked for a pass
        finally:
            stop.set()
            await task
        assert [c.kind for c in shop.open_conflicts()] == ["moved"]
        assert shop.state().passes > first
        assert shop.state().next_pass_at <= utcnow() + timedelta(seconds=1)
    finally:
        runtime.close()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.02)


def _passes(shop: Shop) -> int:
    with shop.runtime.sessions.begin() as session:
        state = session.get(ReconcileState, shop.binding_id())
        return 0 if state is None else state.passes


def _mirrored(shop: Shop) -> bool:
    with shop.runtime.sessions.begin() as session:
        mirror = session.scalars(select(Mirror)).one()
        return mirror.remote_id is not None and not mirror.pending

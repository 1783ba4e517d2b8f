"""Staff change a mirrored event in Outlook: the reconcile rules on Microsoft 365 (Graph double).

The rule tests of test_rules.py run here unchanged, with the Graph double as
the staff calendar; the Graph-specific ones follow (expired delta tokens, a
booking moved out of the watched window, replayed and repeated delta entries).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.graph import GraphDouble
from tests.reconcile.graph_hands import GraphHands
from tests.reconcile.shop import HOUR, START, Shop
from tests.reconcile.test_rules import (
    MOVED,
    booked,
    test_a_deletion_is_undone_when_the_booking_wins,
    test_a_deletion_never_cancels_the_booking,
    test_a_move_is_flagged_and_clears_when_moved_back,
    test_a_move_is_put_back_when_the_booking_wins,
    test_a_move_reschedules_when_the_calendar_wins,
    test_a_services_rule_overrides_the_merchants,
)
from tests.reconcile.test_watching import busy_of_alice

pytestmark = pytest.mark.anyio

__all__ = [
    "test_a_deletion_is_undone_when_the_booking_wins",
    "test_a_deletion_never_cancels_the_booking",
    "test_a_move_is_flagged_and_clears_when_moved_back",
    "test_a_move_is_put_back_when_the_booking_wins",
    "test_a_move_reschedules_when_the_calendar_wins",
    "test_a_services_rule_overrides_the_merchants",
]
HALF = timedelta(minutes=30)


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture
async def hands(double: GraphDouble, tmp_path: Path) -> AsyncIterator[GraphHands]:
    found = GraphHands(double, tmp_path)
    yield found
    await found.aclose()


async def test_a_foreign_busy_event_over_a_booking_is_a_conflict(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    await shop.settle()
    dentist = await shop.hands.add_foreign(shop.calendar_id, "dentist", START + HALF,
                                           START + HOUR + HALF)
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    assert (conflict.kind, conflict.remote_id) == ("overlap", dentist)
    assert busy_of_alice(shop) == [(START + HALF, START + HOUR + HALF)]
    assert await shop.event_times("b1") == (START, START + HOUR), "nothing else changes"

    await shop.hands.delete(shop.calendar_id, dentist)
    await shop.watch_again()
    (closed,) = shop.conflicts()
    assert (closed.status, closed.resolution) == ("resolved", "cleared")
    assert busy_of_alice(shop) == []


async def test_a_free_event_over_a_booking_is_no_conflict(shop: Shop) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    await shop.hands.add_foreign(shop.calendar_id, "note", START, START + HOUR, busy=False)
    await shop.watch_again()
    assert shop.conflicts() == []
    assert busy_of_alice(shop) == []


@pytest.mark.parametrize("rule", ["booking_wins", "calendar_wins", "flag"])
async def test_an_expired_delta_token_lists_the_window_again(shop: Shop, rule: str) -> None:
    await booked(shop, rule)
    first = shop.state()
    assert first.cursor is not None
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    shop.hands.refused_cursor(shop.calendar_id, first.cursor)
    await shop.watch_again()
    state = shop.state()
    assert state.last_reset_reason is not None
    assert "syncStateNotFound" in state.last_reset_reason
    assert state.cursor not in (None, first.cursor)
    (history,) = shop.conflicts()
    assert history.kind == "moved"
    expected = {"booking_wins": (START, START + HOUR), "calendar_wins": MOVED, "flag": MOVED}
    assert await shop.event_times("b1") == expected[rule]
    assert (shop.booking("b1").start, shop.booking("b1").end) == (
        MOVED if rule == "calendar_wins" else (START, START + HOUR)
    )


async def test_an_expired_token_after_a_deletion_never_cancels(shop: Shop) -> None:
    await booked(shop, "calendar_wins")
    cursor = shop.state().cursor
    assert cursor is not None
    await shop.hands.delete(shop.calendar_id, shop.href("b1"))
    shop.hands.refused_cursor(shop.calendar_id, cursor)
    await shop.watch_again()
    assert shop.booking("b1").status == "confirmed"
    (conflict,) = shop.open_conflicts()
    assert conflict.kind in {"deleted", "missing"}
    assert ("cancelled", "customer") not in shop.messages()


async def test_replayed_and_repeated_delta_entries_change_nothing(shop: Shop) -> None:
    await booked(shop, "flag")
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    before = shop.state().cursor
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    shop.set_cursor(before)  # the same delta once more, as after a crash before the commit
    await shop.watch_again()
    await shop.watch_again()
    assert [c.id for c in shop.open_conflicts()] == [conflict.id]
    assert len([m for m in shop.messages() if m[0] == "conflict_notice"]) == 2
    assert await shop.event_times("b1") == MOVED
    assert shop.booking("b1").version == 1


async def test_an_event_moved_out_of_the_window_is_found_not_lost(shop: Shop) -> None:
    await booked(shop, "booking_wins")
    far = START + timedelta(days=200)
    await shop.hands.move(shop.calendar_id, shop.href("b1"), far, far + HOUR)
    await shop.watch_again()
    assert await shop.event_times("b1") == (START, START + HOUR)
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("moved", "booking_wins")

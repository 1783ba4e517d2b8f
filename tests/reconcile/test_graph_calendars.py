"""A booking calendar that is not the mailbox's default one, watched on the strict double.

Graph documents calendarView delta for the primary calendar only and users report
that /users/{id}/events subscriptions notify for the default calendar only: such a
binding falls back to listing its window when delta is refused, keeps that in its
reconcile state, and is read more often than the usual interval.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.m365.delta import LISTING_CURSOR
from tests.graph import GraphDouble
from tests.reconcile.graph_hands import GraphHands
from tests.reconcile.shop import START, Shop, migrated, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
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


@pytest.fixture
def shop(database_url: str, hands: GraphHands, double: GraphDouble) -> Iterator[Shop]:
    mailbox = hands.new_calendar()
    calendar = double.add_calendar(mailbox, "Bookings")
    runtime = migrated(settings_for(database_url, hands))
    yield Shop(runtime, hands, f"{mailbox}/{calendar}")
    runtime.close()


async def test_another_calendar_is_listed_and_read_more_often(
    shop: Shop, double: GraphDouble
) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    await shop.settle()
    state = shop.state()
    assert state.cursor == LISTING_CURSOR
    assert state.last_reset_reason is not None
    assert "listing the window" in state.last_reset_reason
    assert state.last_pass_at is not None
    assert state.next_pass_at - state.last_pass_at == timedelta(seconds=60)  # not 3600

    mailbox, _, calendar = shop.calendar_id.partition("/")
    dentist = double.add_foreign_event(
        mailbox, "dentist", START + HALF, START + 2 * HALF, calendar_id=calendar
    )
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    assert (conflict.kind, conflict.remote_id) == ("overlap", dentist)
    assert shop.state().cursor == LISTING_CURSOR

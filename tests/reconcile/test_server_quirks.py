"""Reconciling against servers that behave unlike Radicale and Xandikos (issue 15), played
by a proxy in front of Radicale (tests/dav_quirks.py): a sync-token accepted whatever it is
(DAViCal), no sync-collection at all (sabre/dav 1.8), creates refused for a while (Cyrus)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from connectors.base import EventSpec
from connectors.caldav.ical import event_to_ical
from syncd.domain.bookings import event_uid
from syncd.worker import Worker
from tests.dav_proxy import CountingProxy, Quirk
from tests.dav_quirks import AnySyncTokenAccepted, NoSyncCollection, WritesRefused
from tests.reconcile.hands import ProxiedHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio


@contextmanager
def shop_behind(
    radicale: RadicaleServer, database_url: str, quirk: Quirk, **reconcile: Any
) -> Iterator[Shop]:
    """The salon, its calendar on Radicale, reached by syncd through a proxy with `quirk`."""
    with CountingProxy(radicale.url, quirk=quirk) as proxy:
        hands = ProxiedHands(radicale, proxy.url)
        runtime = migrated(settings_for(database_url, hands, **reconcile))
        try:
            yield Shop(runtime, hands, hands.new_calendar())
        finally:
            runtime.close()


async def test_a_deletion_a_stale_token_hides_is_seen_by_the_next_full_listing(
    radicale: RadicaleServer, database_url: str
) -> None:
    with shop_behind(radicale, database_url, AnySyncTokenAccepted()) as shop:
        shop.seed("booking_wins")
        shop.book("b1")
        await shop.settle()
        await shop.hands.delete(shop.calendar_id, shop.href("b1"))
        shop.set_cursor("a-token-the-server-never-issued")  # lost; the server takes it anyway
        await shop.watch_again()
        assert await shop.event_times("b1") is None, "the delta hid the deletion"
        assert shop.conflicts() == []

        shop.date_back_listing(2 * HOUR)  # older than full_listing_interval (1 h by default)
        await shop.watch_again()
        assert await shop.event_times("b1") == (START, START + HOUR), "put back"
        assert [(c.kind, c.status) for c in shop.conflicts()] == [("missing", "resolved")]
        assert shop.state().cursor not in (None, "a-token-the-server-never-issued")


async def test_passes_coming_round_see_a_hidden_deletion_within_the_interval(
    radicale: RadicaleServer, database_url: str
) -> None:
    quirk = AnySyncTokenAccepted()
    with shop_behind(radicale, database_url, quirk, interval_seconds=0.2,
                     full_listing_interval=1.5) as shop:
        shop.seed("booking_wins")
        shop.book("b1")
        await shop.settle()
        await shop.hands.delete(shop.calendar_id, shop.href("b1"))
        worker, stop = Worker(shop.runtime, {"cal": shop.hands.connector}), asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(30):  # nobody asks for a pass
                await _until(shop, lambda times: times == (START, START + HOUR))
        finally:
            stop.set()
            await task
        assert [(c.kind, c.status) for c in shop.conflicts()] == [("missing", "resolved")]


async def _until(shop: Shop, holds: Callable[[object], bool]) -> None:
    while not holds(await shop.event_times("b1")):
        await asyncio.sleep(0.05)


async def test_a_server_without_sync_collection_is_listed_on_every_pass(
    radicale: RadicaleServer, database_url: str
) -> None:
    with shop_behind(radicale, database_url, NoSyncCollection()) as shop:
        shop.seed("booking_wins")
        shop.book("b1")
        shop.book("b2", START + 3 * HOUR)
        await shop.settle()
        await shop.hands.delete(shop.calendar_id, shop.href("b1"))
        dentist = await shop.hands.add_foreign(shop.calendar_id, "dentist", START + 3 * HOUR,
                                               START + 4 * HOUR)
        await shop.watch_again()
        state = shop.state()
        assert (state.cursor, state.last_error, state.last_reset_reason) == (None, None, None)
        assert state.passes == 2
        assert await shop.event_times("b1") == (START, START + HOUR), "its deletion was seen"
        assert [(c.kind, c.remote_id) for c in shop.open_conflicts()] == [("overlap", dentist)]


async def test_a_bookings_own_event_is_never_its_double_booking_while_relinking(
    radicale: RadicaleServer, database_url: str
) -> None:
    writes = WritesRefused()
    with shop_behind(radicale, database_url, writes) as shop:
        shop.seed("booking_wins")
        # b1's event, written before syncd's store was lost: found before b1 exists again
        left = EventSpec(booking_key=event_uid("salon", "b1"), summary="Haircut: Jane",
                         start=START, end=START + HOUR, timezone="Europe/Berlin", sequence=0)
        assert isinstance(shop.hands, ProxiedHands)
        await shop.hands.put_raw(shop.calendar_id, "left.ics", event_to_ical(left).decode())
        await shop.settle()
        writes.refusing = True
        shop.book("b1")  # re-created by the platform; its event cannot be relinked yet
        await shop.watch_again()
        assert [c for c in shop.conflicts() if c.kind == "overlap"] == []

        writes.refusing = False
        shop.book("b1", START + HOUR)  # a change makes its write due again
        await shop.watch_again()
        await shop.watch_again()
        assert await shop.hands.events(shop.calendar_id) == {
            left.booking_key: (START + HOUR, START + 2 * HOUR)
        }
        assert [c for c in shop.conflicts() if c.kind == "overlap"] == []

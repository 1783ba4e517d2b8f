"""What anyone who can write to a staff calendar (or name themselves in a booking) can put
there, on a real Radicale: endless series recurring every second or minute, events dated in
the year 1, names carrying U+2028. Each is set apart or written harmlessly; the passes of
the calendar go on, bounded, and still see what staff do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from tests.contract.harness import DavHarness, wrap_vevent
from tests.reconcile.hands import DavHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.servers import RadicaleServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
MOVED = (START + 2 * HOUR, START + 3 * HOUR)
SECOND = timedelta(seconds=1)


@pytest.fixture
async def dav(radicale: RadicaleServer) -> AsyncIterator[DavHands]:
    hands = DavHands(radicale)
    yield hands
    await hands.aclose()


@pytest.fixture
def shop(database_url: str, dav: DavHands) -> Iterator[Shop]:
    runtime = migrated(settings_for(database_url, dav))
    yield Shop(runtime, dav, dav.new_calendar())
    runtime.close()


def set_apart() -> float:
    found = REGISTRY.get_sample_value("syncd_reconcile_unreadable_events_total",
                                      {"connector": "caldav"})
    return found or 0.0


async def put_foreign(shop: Shop, name: str, lines: str) -> str:
    assert isinstance(shop.hands, DavHands)
    harness = DavHarness(shop.hands.connector.calendar(shop.calendar_id), shop.hands.server,
                         shop.calendar_id)
    vevent = f"UID:{name}\nDTSTAMP:20260101T000000Z\n{lines}"
    return await harness.put_raw(f"{name}.ics", wrap_vevent(vevent))


async def loop_lag_while(work: asyncio.Future[None]) -> float:
    """The longest the event loop went without running this probe while `work` ran."""
    worst, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    await work
    return worst


async def test_endless_series_are_set_apart_without_stalling_the_loop(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    before = set_apart()
    first = START - 24 * HOUR
    times = f"DTSTART:{first:%Y%m%dT%H%M%SZ}\nDTEND:{first + SECOND:%Y%m%dT%H%M%SZ}\n"
    secondly = await put_foreign(shop, "every-second", times + "RRULE:FREQ=SECONDLY")
    minutely = await put_foreign(shop, "every-minute", times + "RRULE:FREQ=MINUTELY")
    lag = await loop_lag_while(asyncio.ensure_future(shop.settle()))
    assert lag < 1.0, f"the event loop stalled for {lag:.2f}s"
    unreadable = {e["event"]: e["reason"] for e in shop.state().unreadable or []}
    assert set(unreadable) == {secondly, minutely}
    assert all("recurs too often" in reason for reason in unreadable.values())
    assert set_apart() - before == 2
    assert shop.state().failures == 0
    assert await shop.event_times("b1") == (START, START + HOUR)

    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert await shop.event_times("b1") == (START, START + HOUR), "the move was seen"
    assert set_apart() - before == 2, "counted once, not on every pass"


async def test_an_event_dated_in_the_year_one_is_set_apart(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1")
    await shop.settle()
    ancient = await put_foreign(shop, "ancient", "DTSTART;TZID=Europe/Berlin:00010101T003000\n"
                                                 "DTEND;TZID=Europe/Berlin:00010101T013000")
    await shop.watch_again()
    assert [e["event"] for e in shop.state().unreadable or []] == [ancient]
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert shop.state().failures == 0
    assert await event_of(shop, "b1") == (START, START + HOUR), "the move was seen"
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("moved", "booking_wins")


async def test_a_name_with_a_line_separator_hides_no_move(shop: Shop) -> None:
    shop.seed("booking_wins")
    shop.book("b1", customer={"name": "Eve\u2028DTSTART:20300101T000000Z",
                              "email": "eve@example.com", "timezone": "Europe/Paris"})
    await shop.settle()
    assert "\u2028" not in raw_object(shop, shop.href("b1"))
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert await shop.event_times("b1") == (START, START + HOUR)
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("moved", "booking_wins")


async def test_a_name_with_a_line_separator_breaks_no_pass(shop: Shop) -> None:
    shop.seed("flag")
    shop.book("b1", customer={"name": "Mallory\u2028RRULE:FREQ=MINUTELY",
                              "email": "m@example.com", "timezone": "Europe/Paris"})
    await shop.settle()
    dentist = await shop.hands.add_foreign(shop.calendar_id, "dentist", START, START + HOUR)
    await shop.watch_again()
    state = shop.state()
    assert (state.failures, state.last_error, state.unreadable) == (0, None, None)
    (conflict,) = shop.open_conflicts()
    assert (conflict.kind, conflict.remote_id) == ("overlap", dentist)


async def event_of(shop: Shop, key: str) -> tuple[datetime, datetime] | None:
    """The times of the booking's event on the calendar, as syncd's connector finds it."""
    calendar = shop.hands.connector.calendar(shop.calendar_id)
    found = await calendar.find_by_booking(shop.booking(key).uid)
    return None if found is None else (found.start, found.end)


def raw_object(shop: Shop, href: str) -> str:
    assert isinstance(shop.hands, DavHands)
    with shop.hands.server.http_client() as client:
        return client.get(href).text

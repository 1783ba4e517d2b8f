"""A proxy in front of the CalDAV server answers listings with garbage: an HTML page, an
empty multistatus, or a well-formed answer that shows the calendar empty. No pass may take
syncd's events for gone: no conflict, no mail, no rewrite, on any rule. A real mass deletion
still counts, told in one notice per calendar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from connectors.caldav import Settings, build
from tests.dav_proxy import CountingProxy
from tests.dbs import database_url
from tests.reconcile.hands import DavHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio
__all__ = ["database_url"]  # on SQLite and PostgreSQL

BOOKINGS = [f"b{i}" for i in range(5)]
HTML = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"
EMPTY = b'<?xml version="1.0"?><multistatus xmlns="DAV:"/>'
EMPTY_WITH_TOKEN = (
    b'<?xml version="1.0"?><multistatus xmlns="DAV:">'
    b"<sync-token>http://example.com/sync/1</sync-token></multistatus>"
)
LISTINGS = {"REPORT", "PROPFIND"}


@dataclass
class Garbage:
    """What the proxy answers every listing with, while `on`."""

    body: bytes
    media_type: str
    status: int
    methods: frozenset[str] = frozenset(LISTINGS)
    on: bool = False

    async def __call__(self, request: Request) -> Response | None:
        if not self.on or request.method not in self.methods:
            return None
        return Response(self.body, status_code=self.status, media_type=self.media_type)


GARBAGE: dict[str, Callable[[], Garbage]] = {
    "html": lambda: Garbage(HTML, "text/html", 200),
    "empty multistatus": lambda: Garbage(EMPTY, "application/xml", 207),
    # well-formed, as an empty calendar would answer: only the safety valve can tell
    "empty calendar": lambda: Garbage(EMPTY_WITH_TOKEN, "application/xml", 207,
                                      frozenset({"REPORT"})),
}


class ProxiedHands(DavHands):
    """Radicale behind the proxy for syncd's worker; the test's own hands reach it directly."""

    def __init__(self, server: RadicaleServer, proxy: CountingProxy) -> None:
        self.server, self.name, self.proxy_url = server, "radicale", proxy.url
        self.connector = build(Settings.model_validate(self.settings()))

    def settings(self) -> dict[str, Any]:
        return self.server.connector_settings(url=self.proxy_url)


@pytest.fixture(params=list(GARBAGE))
def garbage(request: pytest.FixtureRequest) -> Garbage:
    return GARBAGE[request.param]()


@pytest.fixture
async def proxied_shop(
    database_url: str, radicale: RadicaleServer, garbage: Garbage
) -> AsyncIterator[Shop]:
    with CountingProxy(radicale.url, fault=garbage) as proxy:
        hands = ProxiedHands(radicale, proxy)
        runtime = migrated(settings_for(database_url, hands))
        yield Shop(runtime, hands, hands.new_calendar())
        runtime.close()
        await hands.aclose()


async def _booked(shop: Shop, rule: str) -> None:
    shop.seed(rule)
    for key in BOOKINGS:
        shop.book(key)
    await shop.settle()
    assert len(await shop.hands.events(shop.calendar_id)) == len(BOOKINGS)


@pytest.mark.parametrize("rule", ["flag", "booking_wins"])
async def test_a_garbage_listing_is_a_failed_pass_never_an_empty_calendar(
    proxied_shop: Shop, garbage: Garbage, rule: str
) -> None:
    shop = proxied_shop
    await _booked(shop, rule)
    garbage.on = True
    shop.set_cursor(None)  # a complete listing, the pass most exposed to an empty answer
    shop.request_pass()
    await shop.run_until(lambda: shop.state().failures >= 3)
    assert shop.conflicts() == []
    assert [m for m in shop.messages() if m[0] == "conflict_notice"] == []
    assert "conflict.detected" not in shop.webhook_types()
    assert shop.state().last_error
    garbage.on, passes = False, shop.state().passes
    shop.request_pass()
    await shop.run_until(lambda: shop.state().passes > passes)
    assert shop.conflicts() == []
    events = await shop.hands.events(shop.calendar_id)
    assert sorted(events.values()) == [(START, START + HOUR)] * len(BOOKINGS)


@pytest.mark.parametrize("garbage", ["html"], indirect=True)  # and not sent
async def test_a_real_mass_deletion_opens_its_conflicts_in_one_notice(
    proxied_shop: Shop,
) -> None:
    shop = proxied_shop
    await _booked(shop, "flag")
    for key in BOOKINGS:
        await shop.hands.delete(shop.calendar_id, shop.href(key))
    await shop.watch_again()
    opened = shop.open_conflicts()
    assert sorted(c.kind for c in opened) == ["deleted"] * len(BOOKINGS)
    notices = [m for m in shop.messages() if m[0] == "conflict_notice"]
    assert notices == [("conflict_notice", "merchant"), ("conflict_notice", "staff")]
    assert shop.webhook_types().count("conflict.detected") == len(BOOKINGS)

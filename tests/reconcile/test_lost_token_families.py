"""A deletion made while syncd's sync-token was lost is seen on every server family.

Radicale, Xandikos and Cyrus refuse a token they never issued, and the pass lists
the calendar at once. DAViCal takes any token as a delta with no removals: there
only the complete listing made every `reconcile.full_listing_interval` sees it.
"""

from __future__ import annotations

import pytest

from tests.reconcile.hands import DavHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.server_families import FAMILIES
from tests.servers import DavServer
from tests.servers_cyrus import CyrusServer

pytestmark = pytest.mark.anyio
NEVER_ISSUED = "a-token-the-server-never-issued"


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_server(request: pytest.FixtureRequest) -> DavServer:
    """The session's server of each family in turn (tests/conftest.py)."""
    server: DavServer = request.getfixturevalue(request.param)
    return server


def own_account(server: DavServer) -> DavServer:
    # Cyrus keeps UIDs unique across an account: a test's bookings get an account of their own
    return server.fresh_account() if isinstance(server, CyrusServer) else server


async def test_a_deletion_made_while_the_token_was_lost_is_seen(
    family_server: DavServer, database_url: str
) -> None:
    hands = DavHands(own_account(family_server))
    runtime = migrated(settings_for(database_url, hands))
    try:
        shop = Shop(runtime, hands, hands.new_calendar())
        shop.seed("booking_wins")
        shop.book("b1")
        await shop.settle()
        await hands.delete(shop.calendar_id, shop.href("b1"))
        shop.set_cursor(NEVER_ISSUED)
        await shop.watch_again()
        hidden = not FAMILIES[hands.name].capabilities.refuses_unknown_sync_token
        assert (await shop.event_times("b1") is None) == hidden  # DAViCal took the token
        if hidden:
            shop.date_back_listing(2 * HOUR)  # older than full_listing_interval (1 h)
            await shop.watch_again()
        assert await shop.event_times("b1") == (START, START + HOUR), "put back"
        assert [(c.kind, c.status) for c in shop.conflicts()] == [("missing", "resolved")]
        assert shop.state().cursor not in (None, NEVER_ISSUED)
    finally:
        runtime.close()
        await hands.aclose()

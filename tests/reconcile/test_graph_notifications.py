"""Graph change notifications end to end: the Graph double subscribes syncd's real web handler
(at /push/m365/...), validates it, notifies it; the worker keeps the subscriptions and makes
the passes. Subscriptions made before, which name /graph/..., are still served."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from connectors.push import Endpoints
from syncd.reconcile.push.subscriptions import PushSubscription, hashed, record_subscription
from syncd.reconcile.state import request_pass
from syncd.timeutil import utcnow
from syncd.worker import Worker
from tests.graph import GraphDouble
from tests.reconcile.graph_hands import GraphHands
from tests.reconcile.graph_web import SyncdWeb
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.reconcile.test_rules import MOVED, booked
from tests.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


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
def web_port() -> int:
    return free_port()


@pytest.fixture
def shop(database_url: str, hands: GraphHands, web_port: int) -> Iterator[Shop]:
    graph = {"public_url": f"http://127.0.0.1:{web_port}"}
    runtime = migrated(settings_for(database_url, hands, graph=graph))
    with SyncdWeb(runtime, web_port):
        yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()


@pytest.fixture
def web(web_port: int) -> str:
    return f"http://127.0.0.1:{web_port}"


def row(shop: Shop) -> PushSubscription:
    with shop.runtime.sessions.begin() as session:
        found = session.get_one(PushSubscription, shop.binding_id())
        session.expunge(found)
        return found


def set_expiry(shop: Shop, minutes: float) -> None:
    with shop.runtime.sessions.begin() as session:
        found = session.get_one(PushSubscription, shop.binding_id())
        found.expires_at = utcnow() + timedelta(minutes=minutes)


def subscription(double: GraphDouble, subscription_id: str | None) -> dict[str, Any] | None:
    return next((s for s in double.subscriptions() if s["id"] == subscription_id), None)


def counted(kind: str, outcome: str) -> float:
    labels = {"kind": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("syncd_graph_notifications_total", labels) or 0.0


async def ask_again(shop: Shop) -> None:
    with shop.runtime.sessions.begin() as session:
        request_pass(session, shop.binding_id())
    await shop.settle()


async def running_until(shop: Shop, done: Callable[[], Any], timeout: float = 20) -> None:
    """Run a worker (no polling in this time: passes are an hour apart) until `done()`."""
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(shop.runtime, {"cal": shop.hands.connector}).run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker


async def test_the_first_pass_subscribes_and_graph_validates_syncd(
    shop: Shop, double: GraphDouble, web: str
) -> None:
    await booked(shop, "booking_wins")
    kept = row(shop)
    live = subscription(double, kept.subscription_id)
    assert live is not None
    assert live["notificationUrl"] == f"{web}/push/m365/notifications"
    assert live["lifecycleNotificationUrl"] == f"{web}/push/m365/lifecycle"
    assert live["resource"] == f"users/{shop.calendar_id}/events"
    secret = str(live["clientState"])
    assert kept.client_state_hash == hashed(secret)
    assert secret not in repr(vars(kept))
    checks = [d for d in double.notifications if d.kind == "validation" and d.url.startswith(web)]
    assert len(checks) == 2
    assert all(d.status == 200 and d.seconds < 10 for d in checks)


async def subscribed_as_before(shop: Shop, web: str) -> str:
    """A subscription as syncd made them before /push/m365: at /graph/..., its row carried over
    by the migration. The double validates both URLs against syncd's web handler."""
    calendar = shop.hands.connector.calendar(shop.calendar_id)
    subscriptions = calendar.change_subscriptions()
    assert subscriptions is not None
    secret = "a-client-state-made-by-an-earlier-syncd-0123456789"
    made = await subscriptions.create(
        Endpoints(f"{web}/graph/notifications", f"{web}/graph/lifecycle"), secret,
        utcnow() + timedelta(days=2),
    )
    with shop.runtime.sessions.begin() as session:
        record_subscription(session, shop.binding_id(), made.subscription_id, made.expires,
                            hashed(secret))
    return made.subscription_id


async def test_subscriptions_made_at_the_former_urls_keep_working(
    shop: Shop, double: GraphDouble, web: str
) -> None:
    shop.seed("booking_wins")
    former = await subscribed_as_before(shop, web)
    checks = [d for d in double.notifications
              if d.kind == "validation" and d.url.startswith(f"{web}/graph/")]
    assert [d.status for d in checks] == [200, 200]
    shop.book("b1")
    await shop.settle()
    assert row(shop).subscription_id == former, "a live subscription is kept, not made again"
    assert [s["id"] for s in double.subscriptions()
            if shop.calendar_id in str(s["resource"])] == [former]
    seen = len(double.notifications)
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)

    async def put_back() -> bool:
        return await shop.event_times("b1") == (START, START + HOUR)

    await running_until(shop, put_back)
    await asyncio.to_thread(double.deliver_notifications)
    changes = [d for d in double.notifications[seen:] if d.kind == "change"]
    assert changes
    assert all(d.url == f"{web}/graph/notifications" and d.status == 202 for d in changes)
    delivery = await asyncio.to_thread(double.lifecycle, former, "missed")
    assert (delivery.url, delivery.status) == (f"{web}/graph/lifecycle", 202)
    assert row(shop).resync_wanted


async def test_a_notification_wakes_the_pass_at_once(shop: Shop, double: GraphDouble) -> None:
    await booked(shop, "booking_wins")
    seen = len(double.notifications)
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)

    async def put_back() -> bool:
        return await shop.event_times("b1") == (START, START + HOUR)

    await running_until(shop, put_back)
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("moved", "booking_wins")
    # The pass can end before the double has read syncd's 202: wait until every POST is settled.
    await asyncio.to_thread(double.deliver_notifications)
    changes = [d for d in double.notifications[seen:] if d.kind == "change"]
    assert changes
    assert all(d.ok and d.status == 202 for d in changes)


async def test_a_wrong_client_state_is_refused_and_wakes_nothing(
    shop: Shop, web: str, caplog: pytest.LogCaptureFixture
) -> None:
    await booked(shop, "booking_wins")
    kept = row(shop)
    due = shop.state().next_pass_at
    refused = counted("change", "rejected")
    forged = {"subscriptionId": kept.subscription_id, "clientState": "forged-secret-123",
              "changeType": "updated", "resource": "Users/x/Events/y"}
    unknown = {**forged, "subscriptionId": "0e2b6c7c-0000-4000-8000-000000000000"}
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=web) as client:
        for item in (forged, unknown):
            answer = await client.post("/graph/notifications", json={"value": [item]})
            assert answer.status_code == 403
        assert (await client.post("/graph/notifications", content=b"{not json")).status_code == 400
        assert (await client.post("/graph/lifecycle", json={"value": [
            {**forged, "lifecycleEvent": "subscriptionRemoved"}]})).status_code == 403
    assert counted("change", "rejected") == refused + 2
    assert shop.state().next_pass_at == due
    assert row(shop).subscription_id == kept.subscription_id  # the forged removal did nothing
    assert "forged-secret-123" not in caplog.text
    assert "refused" in caplog.text


async def test_the_validation_handshake_echoes_the_token(web: str, shop: Shop) -> None:
    token = "Validation: Testing client application reachability for subscription <&>"
    async with httpx.AsyncClient(base_url=web) as client:
        answer = await client.post("/graph/notifications", params={"validationToken": token})
        assert (answer.status_code, answer.text) == (200, token)
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.headers["x-content-type-options"] == "nosniff"
        api = await client.post("/api/v1/merchants", json={})
        assert api.status_code in {401, 503}, "the API stays behind its key"


async def test_a_subscription_near_its_expiry_is_renewed(shop: Shop, double: GraphDouble) -> None:
    await booked(shop, "booking_wins")
    first = row(shop)
    set_expiry(shop, 10)
    await ask_again(shop)
    renewed = row(shop)
    assert renewed.subscription_id == first.subscription_id
    assert renewed.expires_at is not None
    assert renewed.expires_at > utcnow() + timedelta(minutes=4000)
    live = subscription(double, renewed.subscription_id)
    assert live is not None
    assert str(live["expirationDateTime"]) >= renewed.expires_at.strftime("%Y-%m-%dT%H:%M")


async def test_a_removed_subscription_is_made_again(shop: Shop, double: GraphDouble) -> None:
    await booked(shop, "booking_wins")
    old = row(shop).subscription_id
    assert old is not None
    delivery = await asyncio.to_thread(double.lifecycle, old, "subscriptionRemoved")
    assert (delivery.status, delivery.ok) == (202, True)
    assert row(shop).subscription_id is None
    await shop.settle()  # the notification made the pass due
    new = row(shop).subscription_id
    assert new not in (None, old)
    assert subscription(double, new) is not None


async def test_missed_notifications_list_the_window_again(
    shop: Shop, double: GraphDouble
) -> None:
    await booked(shop, "booking_wins")
    before = shop.state()
    subscription_id = row(shop).subscription_id
    assert subscription_id is not None
    await asyncio.to_thread(double.lifecycle, subscription_id, "missed")
    assert row(shop).resync_wanted
    await shop.settle()
    after = shop.state()
    assert after.passes == before.passes + 1
    assert before.last_complete_at is not None
    assert after.last_complete_at is not None
    assert after.last_complete_at > before.last_complete_at
    assert after.cursor != before.cursor
    assert not row(shop).resync_wanted


async def test_reauthorization_required_renews(shop: Shop, double: GraphDouble) -> None:
    await booked(shop, "booking_wins")
    first = row(shop)
    assert first.subscription_id is not None
    double.stats.reset()
    await asyncio.to_thread(double.lifecycle, first.subscription_id, "reauthorizationRequired")
    assert row(shop).renew_wanted
    await shop.settle()
    renewed = row(shop)
    assert (renewed.subscription_id, renewed.renew_wanted) == (first.subscription_id, False)
    assert any(m == "PATCH" and "subscriptions" in p for _, m, p, _ in double.stats.log)


async def test_without_a_public_url_syncd_only_polls(
    database_url: str, hands: GraphHands, double: GraphDouble
) -> None:
    shop = Shop(migrated(settings_for(database_url, hands)), hands, hands.new_calendar())
    try:
        await booked(shop, "booking_wins")
        assert shop.state().passes == 1
        mine = [s for s in double.subscriptions() if shop.calendar_id in str(s["resource"])]
        assert mine == []
        with shop.runtime.sessions.begin() as session:
            assert session.scalars(select(PushSubscription)).all() == []
    finally:
        shop.runtime.close()


async def test_an_unreachable_endpoint_leaves_polling_at_work(
    database_url: str, hands: GraphHands, double: GraphDouble
) -> None:
    closed = {"public_url": f"http://127.0.0.1:{free_port()}"}
    runtime = migrated(settings_for(database_url, hands, graph=closed))
    shop = Shop(runtime, hands, hands.new_calendar())
    try:
        await booked(shop, "booking_wins")
        assert shop.state().passes == 1
        failed = row(shop)
        assert (failed.subscription_id, failed.failures) == (None, 1)
        assert failed.last_error is not None
        assert "ValidationError" in failed.last_error
        assert failed.next_attempt_at is not None
        assert failed.next_attempt_at > utcnow()
    finally:
        runtime.close()

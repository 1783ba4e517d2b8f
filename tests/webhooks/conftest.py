"""A migrated store (SQLite and PostgreSQL) with a merchant subscribed to a real receiver."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.catalog import get_merchant
from syncd.store.schema import upgrade
from syncd.webhooks.models import WebhookDelivery
from syncd.webhooks.outbox import EventType
from syncd.webhooks.sender import WebhookSender
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from syncd.wiring import build_runtime
from tests import factories as f
from tests.dbs import database_url
from tests.webhooks.receiver import Received, Receiver

__all__ = ["database_url"]

ALL_EVENTS = list(EventType)
FAST = {
    # Generous: a POST given up on by a slow machine would be sent again and break the
    # counts of attempts the tests assert. The timeout test sets its own.
    "timeout_seconds": 10.0,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "sweep_interval_seconds": 0.5,
    "allow_destinations": ["127.0.0.1"],  # the receivers listen there
}


def settings_for(database_url: str, **webhooks: Any) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "webhooks": FAST | webhooks,
            "connectors": {"local": {"kind": "memory"}},
        }
    )


def migrated(settings: Settings) -> Runtime:
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    runtime = migrated(settings_for(database_url))
    yield runtime
    runtime.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def seed_shop(runtime: Runtime) -> None:
    """Merchant acme: service cut, staff alice and bob (each with a calendar)."""
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.service(session, shop, "color", approval=True)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
        f.staff_with_calendar(session, shop, "bob", "/bob/")


def subscribe(
    runtime: Runtime, url: str, events: list[EventType] | None = None, key: str = "platform"
) -> str:
    """Subscribe acme's `key` to `url`; returns the secret."""
    with runtime.sessions.begin() as session:
        data = WebhookIn.model_validate({"url": url, "events": events or ALL_EVENTS})
        _, secret = upsert_subscription(session, get_merchant(session, "acme"), key, data)
    assert secret is not None
    return secret


@pytest.fixture
def shop(runtime: Runtime, receiver: Receiver) -> str:
    """acme, subscribed to every event at `receiver`; the value is the signing secret."""
    seed_shop(runtime)
    return subscribe(runtime, receiver.url)


CREATED_MOVED_CANCELLED = ["booking.created", "booking.rescheduled", "booking.cancelled"]


def book_move_cancel(runtime: Runtime, key: str, index: int = 0) -> None:
    """Three transactions, three events: created, rescheduled (to bob), cancelled."""
    with runtime.sessions.begin() as session:
        f.book(session, key, "alice", f.slot(index))
    with runtime.sessions.begin() as session:
        f.book(session, key, "bob", f.slot(index + 100))
    with runtime.sessions.begin() as session:
        f.cancel(session, key)


def book(runtime: Runtime, key: str = "b1") -> None:
    with runtime.sessions.begin() as session:
        f.book(session, key, "alice", f.slot(0))


def assert_in_order(received: list[Received], booking: str, types: list[str]) -> None:
    """Each event of `booking` is first sent only after the previous one's last attempt."""
    attempts = [r for r in received if r.booking == booking]
    ids = list(dict.fromkeys(r.webhook_id for r in attempts))
    by_id = {i: [r for r in attempts if r.webhook_id == i] for i in ids}
    assert [by_id[i][0].payload["type"] for i in ids] == types
    for earlier, later in itertools.pairwise(ids):
        assert by_id[earlier][-1].at < by_id[later][0].at


def all_deliveries(runtime: Runtime) -> list[WebhookDelivery]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def settled(runtime: Runtime) -> Callable[[], bool]:
    """True once no delivery is pending."""
    return lambda: all(d.state != "pending" for d in all_deliveries(runtime))


async def run_sender_until(
    runtime: Runtime, done: Callable[[], bool], timeout: float = 15
) -> WebhookSender:
    sender, stop = WebhookSender(runtime), asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(done):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    return sender


def deliver_all(runtime: Runtime, timeout: float = 15) -> None:
    asyncio.run(run_sender_until(runtime, settled(runtime), timeout))

"""The sender against a real local receiver: signed, retried, refused, in order per booking."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncd.runtime import Runtime
from syncd.webhooks.models import WebhookSubscription
from tests.webhooks.conftest import (
    CREATED_MOVED_CANCELLED,
    all_deliveries,
    assert_in_order,
    book,
    book_move_cancel,
    deliver_all,
    migrated,
    run_sender_until,
    seed_shop,
    settings_for,
    subscribe,
)
from tests.webhooks.receiver import Receiver, Reply, always, first
from tests.webhooks.standard_webhooks import verify


@pytest.fixture
def shop_with(database_url: str, receiver: Receiver) -> Iterator[Callable[..., Runtime]]:
    """For tests that need webhook settings of their own: acme, subscribed at `receiver`, on
    a runtime with those settings."""
    made: list[Runtime] = []

    def make(**webhooks: Any) -> Runtime:
        runtime = migrated(settings_for(database_url, **webhooks))
        made.append(runtime)
        seed_shop(runtime)
        subscribe(runtime, receiver.url)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def test_events_arrive_signed_and_in_order(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    book_move_cancel(runtime, "b1")
    deliver_all(runtime)
    got = receiver.received
    assert [r.payload["type"] for r in got] == CREATED_MOVED_CANCELLED
    for request in got:
        assert verify(shop, request.headers, request.body)["data"]["booking"] == "b1"
        assert request.headers["content-type"] == "application/json"
    rows = all_deliveries(runtime)
    assert [r.message_id for r in rows] == [r.webhook_id for r in got]
    assert {(r.state, r.attempts, r.last_status) for r in rows} == {("delivered", 1, 200)}


def test_a_server_error_is_retried_with_the_same_webhook_id(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    receiver.answer = first(2, Reply(500))
    book(runtime)
    deliver_all(runtime)
    got = receiver.received
    assert len(got) == 3
    assert len({r.webhook_id for r in got}) == 1
    for request in got:
        verify(shop, request.headers, request.body)
    (row,) = all_deliveries(runtime)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 3, 200)


def test_a_timeout_is_retried(
    receiver: Receiver, shop_with: Callable[..., Runtime]
) -> None:
    runtime = shop_with(timeout_seconds=2.0)
    unanswered = threading.Event()
    receiver.answer = first(1, Reply(200, hold=unanswered))  # the sender gives up after 2 s
    try:
        book(runtime)
        deliver_all(runtime)
    finally:
        unanswered.set()
    got = receiver.received
    assert len(got) == 2
    assert got[0].webhook_id == got[1].webhook_id
    (row,) = all_deliveries(runtime)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 2, 200)


def test_429_is_retried_no_sooner_than_retry_after(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    receiver.answer = first(1, Reply(429, {"Retry-After": "1"}))
    book(runtime)
    deliver_all(runtime)
    one, two = receiver.received
    assert one.webhook_id == two.webhook_id
    assert two.wall - one.wall >= 0.95  # the backoff alone would be 0.05-0.2 s
    (row,) = all_deliveries(runtime)
    assert (row.state, row.attempts) == ("delivered", 2)


def test_a_client_error_fails_for_good_and_the_booking_moves_on(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    receiver.answer = first(
        99, Reply(422), when=lambda r: r.payload["type"] == "booking.created"
    )
    book_move_cancel(runtime, "b1")
    deliver_all(runtime)
    assert [r.payload["type"] for r in receiver.received] == CREATED_MOVED_CANCELLED
    created, *later = all_deliveries(runtime)
    assert (created.state, created.attempts, created.last_status) == ("failed", 1, 422)
    assert created.last_error == "HTTP 422"
    assert {row.state for row in later} == {"delivered"}


def test_410_gone_disables_the_subscription(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    receiver.answer = always(410)
    book_move_cancel(runtime, "b1")
    asyncio.run(run_sender_until(runtime, quiet_after_failing(runtime, seconds=1.0)))
    assert len(receiver.received) == 1
    assert [d.state for d in all_deliveries(runtime)] == ["failed", "pending", "pending"]
    with runtime.sessions.begin() as session:
        subscription = session.query(WebhookSubscription).one()
        assert subscription.enabled is False
        assert "410" in (subscription.disabled_reason or "")


def quiet_after_failing(runtime: Runtime, seconds: float) -> Callable[[], bool]:
    """True once the first delivery failed and `seconds` more passed (time to send more)."""
    failed_at: float | None = None

    def done() -> bool:
        nonlocal failed_at
        if failed_at is None and all_deliveries(runtime)[0].state == "failed":
            failed_at = time.monotonic()
        return failed_at is not None and time.monotonic() - failed_at > seconds

    return done


def test_retries_end_with_the_retry_period(
    receiver: Receiver, shop_with: Callable[..., Runtime]
) -> None:
    # Long enough that the first attempt falls inside it even when the machine is slow to
    # start the sender; the backoff (at most 0.2 s) then makes several attempts in it.
    runtime = shop_with(retry_period_hours=2 / 3600)
    receiver.answer = always(503)
    book(runtime)
    deliver_all(runtime)
    (row,) = all_deliveries(runtime)
    assert row.state == "failed"
    assert row.attempts >= 2
    assert row.last_error == "HTTP 503; retry period over"


def test_order_per_booking_holds_while_other_bookings_flow(
    runtime: Runtime, receiver: Receiver, shop: str
) -> None:
    """b0's first event is refused six times; b1..b4 are not held up by it."""
    receiver.answer = first(
        6, Reply(500), when=lambda r: (r.booking, r.payload["type"]) == ("b0", "booking.created")
    )
    for index in range(5):
        book_move_cancel(runtime, f"b{index}", index)
    deliver_all(runtime)
    got = receiver.received
    for index in range(5):
        assert_in_order(got, f"b{index}", CREATED_MOVED_CANCELLED)
    b0_accepted = [r for r in got if r.booking == "b0"][6]
    assert b0_accepted.payload["type"] == "booking.created"
    assert max(r.at for r in got if r.booking != "b0") < b0_accepted.at


def test_a_commit_wakes_the_sender_at_once(
    receiver: Receiver, shop_with: Callable[..., Runtime]
) -> None:
    runtime = shop_with(sweep_interval_seconds=60)

    async def scenario() -> None:
        async def book_soon() -> None:
            await asyncio.sleep(0.3)  # the sender is idle by now, waiting out its sweep
            await asyncio.to_thread(book_move_cancel, runtime, "b1")

        booking = asyncio.create_task(book_soon())
        # Well under the 60 s sweep, so only the commit's wake-up can meet it.
        await run_sender_until(runtime, lambda: len(receiver.received) == 3, timeout=20)
        await booking

    asyncio.run(scenario())

"""Claiming lane heads: one sender per lane, leases taken over once expired, room respected."""

from __future__ import annotations

from datetime import datetime, timedelta

from syncd.runtime import Runtime
from syncd.timeutil import utcnow
from syncd.webhooks import queue
from syncd.webhooks.models import DeliveryState
from syncd.webhooks.queue import Claim, Outgoing
from tests import factories as f
from tests.webhooks.conftest import all_deliveries, seed_shop, subscribe


def claim(
    runtime: Runtime, owner: str, now: datetime | None = None, room: int = 16
) -> list[Outgoing]:
    now = now or utcnow()
    request = Claim(owner, now, now + timedelta(seconds=60), 100, {}, room, frozenset())
    with runtime.sessions.begin() as session:
        return queue.claim_due(session, request)


def queue_events(runtime: Runtime, bookings: int, per_booking: int) -> None:
    seed_shop(runtime)
    subscribe(runtime, "https://platform.example/hooks")
    for index in range(bookings):
        with runtime.sessions.begin() as session:
            f.book(session, f"b{index}", "alice", f.slot(index))
        for move in range(1, per_booking):
            with runtime.sessions.begin() as session:
                f.book(session, f"b{index}", "alice", f.slot(100 * move + index))


def test_only_the_head_of_each_lane_is_claimed_and_only_once(runtime: Runtime) -> None:
    queue_events(runtime, bookings=3, per_booking=3)
    first = claim(runtime, "a")
    heads = {d.booking_id: d.id for d in reversed(all_deliveries(runtime))}
    assert sorted(o.delivery_id for o in first) == sorted(heads.values())
    assert claim(runtime, "b") == [], "another sender must not take a claimed lane"


def test_the_next_event_of_a_lane_is_claimable_once_the_head_is_settled(
    runtime: Runtime,
) -> None:
    queue_events(runtime, bookings=1, per_booking=2)
    (head,) = claim(runtime, "a")
    now = utcnow()
    outcome = queue.Outcome(head.delivery_id, head.subscription_id, DeliveryState.DELIVERED,
                            1, now, now, 200, None)
    with runtime.sessions.begin() as session:
        queue.record_outcomes(session, [outcome])
    (after,) = claim(runtime, "b")
    assert after.delivery_id > head.delivery_id


def test_an_expired_lease_is_taken_over_with_the_same_webhook_id(runtime: Runtime) -> None:
    queue_events(runtime, bookings=1, per_booking=1)
    (held,) = claim(runtime, "dead-sender")
    assert claim(runtime, "b", utcnow() + timedelta(seconds=30)) == []
    (taken,) = claim(runtime, "b", utcnow() + timedelta(seconds=61))
    assert (taken.delivery_id, taken.message_id) == (held.delivery_id, held.message_id)


def test_room_per_subscription_is_respected(runtime: Runtime) -> None:
    queue_events(runtime, bookings=5, per_booking=1)
    assert len(claim(runtime, "a", room=2)) == 2
    with runtime.sessions.begin() as session:
        queue.release_leases(session, "a")
    assert len(claim(runtime, "a", room=16)) == 5


def test_delivered_rows_are_pruned_and_failed_ones_kept(runtime: Runtime) -> None:
    queue_events(runtime, bookings=2, per_booking=1)
    done, failed = claim(runtime, "a")
    old = utcnow() - timedelta(days=30)
    outcomes = [
        queue.Outcome(done.delivery_id, done.subscription_id, DeliveryState.DELIVERED,
                      1, old, old, 204, None),
        queue.Outcome(failed.delivery_id, failed.subscription_id, DeliveryState.FAILED,
                      1, old, old, 400, "HTTP 400"),
    ]
    with runtime.sessions.begin() as session:
        queue.record_outcomes(session, outcomes)
        assert queue.prune_delivered(session, utcnow() - timedelta(days=7)) == 1
    assert [d.id for d in all_deliveries(runtime)] == [failed.delivery_id]

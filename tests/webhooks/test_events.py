"""What is queued, with which payload, in which transaction (no HTTP here)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from syncd.runtime import Runtime
from syncd.schemas import BookingIn
from syncd.store.bookings import change_booking, put_booking
from syncd.store.catalog import get_merchant
from syncd.store.changes import Actor
from syncd.store.models import Booking, CalendarBinding, Mirror
from syncd.store.work import claim_due, record_failure
from syncd.timeutil import utcnow
from syncd.webhooks.emit import (
    ConflictKind,
    ConflictReport,
    Resolution,
    emit_conflict_event,
    mirror_dead_lettered,
)
from syncd.webhooks.models import WebhookDelivery
from syncd.webhooks.outbox import EventType
from tests import factories as f
from tests.webhooks.conftest import all_deliveries, seed_shop, subscribe

URL = "https://platform.example/hooks"


@pytest.fixture
def subscribed(runtime: Runtime) -> Runtime:
    seed_shop(runtime)
    subscribe(runtime, URL)
    return runtime


def payloads(runtime: Runtime) -> list[dict[str, Any]]:
    return [json.loads(d.body) for d in all_deliveries(runtime)]


def change(runtime: Runtime, key: str, actor: Actor = Actor.MERCHANT, **body: Any) -> None:
    base = {
        "service": "cut", "staff": "alice", "start": f.slot(0).isoformat(),
        "customer": {"name": "Ada Lovelace", "email": "ada@example.org",
                     "phone": "+44 20 7946 0000", "timezone": "Europe/London"},
        "notes": "gate code 4711",
    }
    with runtime.sessions.begin() as session:
        data = BookingIn.model_validate(base | body)
        put_booking(session, get_merchant(session, "acme"), key, data, actor)


def test_created_carries_ids_times_status_and_actor(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    (payload,) = payloads(subscribed)
    assert payload["type"] == "booking.created"
    assert payload["timestamp"].endswith("+00:00")
    data = payload["data"]
    assert data == {
        "merchant": "acme", "booking": "b1", "service": "cut", "origin": "web",
        "version": 1, "sequence": 0, "start": "2030-03-04T09:00:00+00:00",
        "end": "2030-03-04T09:30:00+00:00", "staff": "alice", "status": "confirmed",
        "actor": "merchant",
    }


def test_rescheduled_tells_old_and_new_time_and_staff(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    change(subscribed, "b1", Actor.CUSTOMER, staff="bob", start=f.slot(4).isoformat())
    moved = payloads(subscribed)[1]
    assert moved["type"] == "booking.rescheduled"
    assert moved["data"]["actor"] == "customer"
    assert (moved["data"]["staff"], moved["data"]["start"]) == ("bob", "2030-03-04T11:00:00+00:00")
    assert moved["data"]["previous"] == {
        "start": "2030-03-04T09:00:00+00:00", "end": "2030-03-04T09:30:00+00:00",
        "staff": "alice", "status": "confirmed",
    }


def test_cancelled_says_by_whom(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    with subscribed.sessions.begin() as session:
        booking = session.scalars(select(Booking)).one()
        change_booking(session, booking, {"status": "cancelled"}, Actor.RECONCILIATION)
    cancelled = payloads(subscribed)[1]
    assert cancelled["type"] == "booking.cancelled"
    assert cancelled["data"]["status"] == "cancelled"
    assert cancelled["data"]["actor"] == "reconciliation"
    assert cancelled["data"]["previous"]["status"] == "confirmed"


def test_status_change_and_move_in_one_request_are_two_events(subscribed: Runtime) -> None:
    change(subscribed, "b1", service="color")  # needs approval: pending
    change(subscribed, "b1", service="color", status="confirmed", start=f.slot(2).isoformat())
    types = [p["type"] for p in payloads(subscribed)]
    assert types == ["booking.created", "booking.rescheduled", "booking.status_changed"]
    approved = payloads(subscribed)[2]["data"]
    assert (approved["previous"]["status"], approved["status"]) == ("pending", "confirmed")


def test_details_only_changes_send_nothing(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    change(subscribed, "b1", notes="ring twice")
    assert [p["type"] for p in payloads(subscribed)] == ["booking.created"]


def test_payloads_carry_no_personal_data(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    change(subscribed, "b1", staff="bob")
    bodies = " ".join(d.body for d in all_deliveries(subscribed))
    for personal in ("Ada", "ada@example.org", "7946", "gate code", "Europe/London"):
        assert personal not in bodies


def test_a_rolled_back_change_queues_nothing(subscribed: Runtime) -> None:
    session = subscribed.sessions()
    with session.begin():
        f.book(session, "b1", "alice", f.slot(0))
        assert len(session.scalars(select(WebhookDelivery)).all()) == 1  # inside: queued
        session.rollback()
    session.close()
    assert all_deliveries(subscribed) == []


def test_only_subscribed_types_and_enabled_subscriptions_get_events(runtime: Runtime) -> None:
    seed_shop(runtime)
    subscribe(runtime, URL, [EventType.BOOKING_CANCELLED], key="cancels")
    with runtime.sessions.begin() as session:
        f.book(session, "b1", "alice", f.slot(0))
        f.cancel(session, "b1")
    assert [d.event_type for d in all_deliveries(runtime)] == ["booking.cancelled"]


def test_each_subscription_gets_its_own_delivery_and_webhook_id(runtime: Runtime) -> None:
    seed_shop(runtime)
    subscribe(runtime, URL, key="one")
    subscribe(runtime, URL, key="two")
    with runtime.sessions.begin() as session:
        f.book(session, "b1", "alice", f.slot(0))
    one, two = all_deliveries(runtime)
    assert one.body == two.body
    assert one.message_id != two.message_id
    assert one.subscription_id != two.subscription_id


def test_conflict_events_for_reconciliation(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    with subscribed.sessions.begin() as session:
        booking = session.scalars(select(Booking)).one()
        binding = session.scalars(select(CalendarBinding)).first()
        assert binding is not None
        found = f.slot(1)
        report = ConflictReport("c-17", booking, ConflictKind.MOVED, binding, found,
                                found + timedelta(minutes=30))
        emit_conflict_event(session, report)
        emit_conflict_event(session, ConflictReport(
            "c-17", booking, ConflictKind.MOVED, binding,
            resolution=Resolution.BOOKING_WINS, actor=Actor.MERCHANT))
    detected, resolved = payloads(subscribed)[1:]
    assert detected["type"] == "conflict.detected"
    assert detected["data"]["conflict"] == {
        "id": "c-17", "kind": "moved", "calendar": {"staff": "alice", "key": "alice-cal"},
        "found_start": "2030-03-04T09:30:00+00:00", "found_end": "2030-03-04T10:00:00+00:00",
        "resolution": None,
    }
    assert detected["data"]["actor"] == "reconciliation"
    assert resolved["type"] == "conflict.resolved"
    assert resolved["data"]["conflict"]["resolution"] == "booking_wins"
    assert resolved["data"]["actor"] == "merchant"
    lanes = {d.booking_id for d in all_deliveries(subscribed)}
    assert len(lanes) == 1, "conflicts go in their booking's lane"


def test_a_dead_lettered_mirror_is_an_event(subscribed: Runtime) -> None:
    change(subscribed, "b1")
    with subscribed.sessions.begin() as session:
        mirror = session.scalars(select(Mirror)).one()
        (task,) = claim_due(session, mirror.binding_id, utcnow(), limit=10)
        record_failure(session, task, "PermanentError: 403 on /alice/x.ics", utcnow(),
                       dead=False, report_dead=mirror_dead_lettered)
    assert len(all_deliveries(subscribed)) == 1, "a failure that will be retried is no event"
    with subscribed.sessions.begin() as session:
        record_failure(session, task, "PermanentError: 403 on /alice/x.ics", utcnow(),
                       dead=True, report_dead=mirror_dead_lettered)
    dead = payloads(subscribed)[1]
    assert dead["type"] == "mirror.dead_lettered"
    assert dead["data"]["booking"] == "b1"
    assert dead["data"]["mirror"] == {
        "id": mirror.id, "calendar": {"staff": "alice", "key": "alice-cal"},
        "desired": "present", "attempts": 2, "error": "PermanentError",
    }

"""The sender's side of the store: claiming the heads of lanes, recording outcomes, pruning.

A lane is the deliveries of one subscription for one booking. Only its head,
the lowest-id delivery still pending, may be claimed, so a booking's next
event is not sent before the previous one is delivered or has failed for good;
other lanes go on meanwhile. Events without a booking form a lane of their own.

Ids within a lane are in commit order: a booking change flushes the booking's
UPDATE (taking its row lock) before its listeners insert deliveries, so a
concurrent change of the same booking allocates its ids only after this one
commits.

A claim is a lease (owner, expiry) on the row, as in every durable queue
(syncd/store/queue.py). A sender that dies holding one leaves the row pending;
once the lease is released (on SQLite, when the next process starts) or
expires, the row is claimed and sent again with the same webhook-id: delivery
is at least once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, select, update
from sqlalchemy.orm import Session, aliased

from syncd.store.queue import ROW_ID, LeaseColumns, QueueTable, record_all
from syncd.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

_Earlier = aliased(WebhookDelivery)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_LEASES = LeaseColumns(
    WebhookDelivery, WebhookDelivery.lease_owner, WebhookDelivery.lease_expires_at
)
DELIVERIES = QueueTable(
    model=WebhookDelivery,
    id=WebhookDelivery.id,
    waiting=WebhookDelivery.state == DeliveryState.PENDING,
    next_attempt_at=WebhookDelivery.next_attempt_at,
    lease=_LEASES,
)


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery with everything needed to send it, detached from the session."""

    delivery_id: int
    subscription_id: int
    message_id: str
    url: str
    body: bytes
    attempts: int
    queued_at: datetime
    signing_secrets: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True)
class Outcome:
    """What one attempt settled; `state` PENDING means another attempt at `next_attempt_at`."""

    delivery_id: int
    subscription_id: int
    state: DeliveryState
    attempts: int
    attempted_at: datetime
    next_attempt_at: datetime
    status: int | None
    error: str | None
    disables_subscription: bool = False  # the endpoint answered 410 Gone


@dataclass(frozen=True)
class Claim:
    """How much one sender may take: `room` per subscription it asks about (None: ask about
    every subscription with due deliveries, each with `fresh_room` unless `room` names it)."""

    owner: str
    now: datetime
    lease_until: datetime
    total: int
    room: dict[int, int]
    fresh_room: int
    busy: frozenset[int]
    only: frozenset[int] | None = None


def _is_lane_head() -> ColumnElement[bool]:
    earlier = select(_Earlier.id).where(
        _Earlier.subscription_id == WebhookDelivery.subscription_id,
        _Earlier.booking_id == WebhookDelivery.booking_id,
        _Earlier.state == DeliveryState.PENDING,
        _Earlier.id < WebhookDelivery.id,
    )
    return ~earlier.exists()


def _enabled() -> ColumnElement[bool]:
    enabled = select(WebhookSubscription.id).where(WebhookSubscription.enabled.is_(True))
    return WebhookDelivery.subscription_id.in_(enabled)


def claim_due(session: Session, claim: Claim) -> list[Outgoing]:
    """Lease due lane heads within the sender's room; another sender's leases are skipped.

    Each subscription is asked for its own share, so one endpoint's backlog never
    keeps another merchant's events waiting.
    """
    left, chosen = claim.total, []
    for subscription_id in _subscriptions_to_ask(session, claim):
        room = min(left, claim.room.get(subscription_id, claim.fresh_room))
        if room > 0:
            found = _claim_heads_of(session, subscription_id, room, claim)
            chosen += found
            left -= len(found)
    return _outgoing(session, chosen, claim.now)


def _subscriptions_to_ask(session: Session, claim: Claim) -> list[int]:
    if claim.only is not None:
        return sorted(claim.only)
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == WebhookSubscription.id, *DELIVERIES.due(claim.now)
    )
    query = select(WebhookSubscription.id).where(
        WebhookSubscription.enabled.is_(True), due.exists()
    )
    return list(session.scalars(query.order_by(WebhookSubscription.id)))


def _claim_heads_of(
    session: Session, subscription_id: int, room: int, claim: Claim
) -> list[int]:
    """Lease up to `room` due lane heads of one subscription (the subscription still
    enabled: it was asked about a moment ago)."""
    query = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == subscription_id, _enabled(), _is_lane_head())
        .where(WebhookDelivery.id.not_in(claim.busy))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(room)
    )
    rows = DELIVERIES.claim(session, query, claim.owner, claim.lease_until, claim.now)
    return [row.id for row in rows]


_OUTGOING_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.subscription_id,
    WebhookDelivery.message_id,
    WebhookSubscription.url,
    WebhookDelivery.body,
    WebhookDelivery.attempts,
    WebhookDelivery.queued_at,
)
_SECRET_COLUMNS = (
    WebhookSubscription.secret,
    WebhookSubscription.previous_secret,
    WebhookSubscription.previous_secret_expires_at,
)


def _outgoing(session: Session, leased: list[int], now: datetime) -> list[Outgoing]:
    if not leased:
        return []
    query = (
        select(*_OUTGOING_COLUMNS, *_SECRET_COLUMNS)
        .join(WebhookSubscription, WebhookDelivery.subscription_id == WebhookSubscription.id)
        .where(WebhookDelivery.id.in_(leased))
        .order_by(WebhookDelivery.id)
    )
    return [_detached(tuple(row), now) for row in session.execute(query)]


def _detached(row: tuple[Any, ...], now: datetime) -> Outgoing:
    delivery_id, subscription_id, message_id, url, body, attempts, queued_at, *keys = row
    return Outgoing(
        delivery_id=delivery_id,
        subscription_id=subscription_id,
        message_id=message_id,
        url=url,
        body=body.encode(),
        attempts=attempts,
        queued_at=queued_at,
        signing_secrets=signing_secrets(*keys, now=now),
    )


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, *, now: datetime
) -> tuple[str, ...]:
    """The current secret, and the previous one while its overlap lasts."""
    if previous is not None and previous_until is not None and previous_until > now:
        return (secret, previous)
    return (secret,)


# A row no longer pending is left alone: another sender, whose lease followed an
# expired one, recorded it first.
_RECORD_OUTCOME = DELIVERIES.outcome_statement(
    {
        column: bindparam(f"b_{column}")
        for column in (
            "state", "attempts", "last_attempt_at", "next_attempt_at", "delivered_at",
            "last_status", "last_error",
        )
    },
    _DELIVERIES.c.state == DeliveryState.PENDING,
)


def record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> None:
    """Store many attempts' outcomes in one statement (a group commit)."""
    record_all(session, _RECORD_OUTCOME, [_row(outcome) for outcome in outcomes])
    _disable_gone(session, [o for o in outcomes if o.disables_subscription])


def _row(outcome: Outcome) -> dict[str, Any]:
    delivered = outcome.state == DeliveryState.DELIVERED
    return {
        ROW_ID: outcome.delivery_id,
        "b_state": str(outcome.state),
        "b_attempts": outcome.attempts,
        "b_last_attempt_at": outcome.attempted_at,
        "b_next_attempt_at": outcome.next_attempt_at,
        "b_delivered_at": outcome.attempted_at if delivered else None,
        "b_last_status": outcome.status,
        "b_last_error": outcome.error,
    }


def _disable_gone(session: Session, outcomes: list[Outcome]) -> None:
    """Standard Webhooks: 410 Gone means the endpoint wants no more; stop until re-enabled."""
    for outcome in outcomes:
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == outcome.subscription_id)
            .values(
                enabled=False,
                disabled_reason=f"the endpoint answered 410 Gone to {outcome.delivery_id}",
                updated_at=outcome.attempted_at,
            )
        )


def release_leases(session: Session, owner: str | None = None) -> None:
    """Free the rows `owner` holds, or every row (the one process of an SQLite database)."""
    _LEASES.release(session, owner)


def next_due_time(session: Session, now: datetime) -> datetime | None:
    """When the earliest lane head not already claimed becomes due."""
    return DELIVERIES.next_due_time(session, now, _enabled(), _is_lane_head(), lease_ends=False)


def prune_delivered(session: Session, before: datetime, limit: int = 5000) -> int:
    """Forget up to `limit` deliveries that succeeded before `before`; failed ones stay."""
    old = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == DeliveryState.DELIVERED)
        .where(WebhookDelivery.delivered_at < before)
        .limit(limit)
    )
    ids = list(session.scalars(old))
    if ids:
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)

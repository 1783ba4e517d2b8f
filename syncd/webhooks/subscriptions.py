"""Subscriptions and their deliveries as the admin API and the CLI manage them.

A subscription's secret is generated here and shown once: by the API's answer
to the request that created or rotated it. It is stored because every
attempt is signed with it; nothing reads it back out except the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field, HttpUrl, field_validator
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from syncd.errors import NotFound
from syncd.schemas import Strict
from syncd.store.counts import counts_by_owner
from syncd.store.models import Merchant
from syncd.timeutil import utcnow
from syncd.wakeup import OUTBOX_DIRTY
from syncd.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from syncd.webhooks.outbox import EventType
from syncd.webhooks.signing import new_secret

DISABLED_THROUGH_API = "disabled through the API"


class WebhookIn(Strict):
    url: HttpUrl = Field(max_length=2000)  # http(s) only; https recommended
    events: list[EventType] = Field(min_length=1)
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(events))


@dataclass(frozen=True)
class DeliveryCounts:
    pending: int = 0
    failed: int = 0


def find_subscription(
    session: Session, merchant: Merchant, key: str
) -> WebhookSubscription | None:
    query = select(WebhookSubscription).where(
        WebhookSubscription.merchant_id == merchant.id, WebhookSubscription.key == key
    )
    return session.scalar(query)


def get_subscription(session: Session, merchant: Merchant, key: str) -> WebhookSubscription:
    found = find_subscription(session, merchant, key)
    if found is None:
        raise NotFound(f"webhook subscription {key!r}")
    return found


def upsert_subscription(
    session: Session, merchant: Merchant, key: str, data: WebhookIn
) -> tuple[WebhookSubscription, str | None]:
    """Create (returning the new secret, the one time it is shown) or update (no secret)."""
    now = utcnow()
    subscription = find_subscription(session, merchant, key)
    secret = None
    if subscription is None:
        secret = new_secret()
        subscription = WebhookSubscription(
            merchant_id=merchant.id, key=key, secret=secret, created_at=now
        )
        session.add(subscription)
    subscription.url = str(data.url)
    subscription.event_types = [str(event) for event in data.events]
    _set_enabled(session, subscription, data.enabled)
    subscription.updated_at = now
    session.flush()
    return subscription, secret


def _set_enabled(session: Session, subscription: WebhookSubscription, enabled: bool) -> None:
    was_enabled = subscription.enabled is not False  # None: just created, not yet flushed
    if enabled and not was_enabled:
        subscription.disabled_reason = None
        session.info[OUTBOX_DIRTY] = True  # its waiting deliveries may go now
    if was_enabled and not enabled:
        subscription.disabled_reason = DISABLED_THROUGH_API
    subscription.enabled = enabled


def rotate_secret(session: Session, subscription: WebhookSubscription, overlap: timedelta) -> str:
    """A new secret; the old one keeps signing too for `overlap`, so receivers can switch.
    Two are valid at most: rotating again within the overlap retires the oldest at once."""
    now = utcnow()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + overlap
    subscription.secret = new_secret()
    subscription.updated_at = now
    session.flush()
    return subscription.secret


def delete_subscription(session: Session, subscription: WebhookSubscription) -> None:
    """The subscription and every delivery of it, sent or not."""
    session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    )
    session.delete(subscription)
    session.flush()


def all_subscriptions(session: Session) -> list[tuple[WebhookSubscription, str]]:
    """Every subscription with its merchant's key, as `syncd check` lists them."""
    query = (
        select(WebhookSubscription, Merchant.key)
        .join(Merchant, WebhookSubscription.merchant_id == Merchant.id)
        .order_by(Merchant.key, WebhookSubscription.key)
    )
    return [(subscription, key) for subscription, key in session.execute(query)]


def merchant_subscriptions(session: Session, merchant: Merchant) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.merchant_id == merchant.id)
    return list(session.scalars(query.order_by(WebhookSubscription.key)))


def delivery_counts(session: Session, subscription_ids: list[int]) -> dict[int, DeliveryCounts]:
    states = [WebhookDelivery.state == DeliveryState.PENDING,
              WebhookDelivery.state == DeliveryState.FAILED]
    counts = counts_by_owner(session, WebhookDelivery.subscription_id, subscription_ids, states)
    return {sid: DeliveryCounts(*pair) for sid, pair in counts.items()}


def deliveries(
    session: Session, filters: list[ColumnElement[bool]], after: int, limit: int
) -> list[WebhookDelivery]:
    """Up to `limit` + 1 deliveries past id `after`: the extra one says there are more."""
    query = select(WebhookDelivery).where(WebhookDelivery.id > after, *filters)
    return list(session.scalars(query.order_by(WebhookDelivery.id).limit(limit + 1)))


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    found = session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound(f"webhook delivery {delivery_id}")
    return found


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Send again now, with the same webhook-id and body, and a fresh retry period.

    A redelivered event goes ahead of its booking's later events still pending
    (it has the lower id); the payload's `version` lets the platform tell.
    """
    now = utcnow()
    if delivery.state != DeliveryState.PENDING:
        delivery.state, delivery.attempts, delivery.delivered_at = DeliveryState.PENDING, 0, None
        delivery.lease_owner, delivery.lease_expires_at = None, None
    delivery.queued_at = delivery.next_attempt_at = now
    session.info[OUTBOX_DIRTY] = True

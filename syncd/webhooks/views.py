"""Subscriptions and deliveries as the API answers and the CLI prints them: never a secret."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from syncd.timeutil import utc_iso_or_none
from syncd.webhooks.models import WebhookDelivery, WebhookSubscription
from syncd.webhooks.subscriptions import DeliveryCounts

JSON = dict[str, Any]


def subscription_json(subscription: WebhookSubscription, counts: DeliveryCounts) -> JSON:
    return {
        "key": subscription.key,
        "url": subscription.url,
        "events": subscription.event_types,
        "enabled": subscription.enabled,
        "disabled_reason": subscription.disabled_reason,
        "previous_secret_valid_until": utc_iso_or_none(subscription.previous_secret_expires_at),
        "pending_deliveries": counts.pending,
        "failed_deliveries": counts.failed,
        "created_at": utc_iso_or_none(subscription.created_at),
        "updated_at": utc_iso_or_none(subscription.updated_at),
    }


def delivery_json(delivery: WebhookDelivery) -> JSON:
    return {
        "id": delivery.id,
        "webhook_id": delivery.message_id,
        "type": delivery.event_type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": utc_iso_or_none(delivery.created_at),
        "last_attempt_at": utc_iso_or_none(delivery.last_attempt_at),
        "next_attempt_at": utc_iso_or_none(delivery.next_attempt_at),
        "delivered_at": utc_iso_or_none(delivery.delivered_at),
        "payload": json.loads(delivery.body),
    }


def shown_url(url: str) -> str:
    """The URL without any password in it, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))

"""Queueing an event for a merchant's subscriptions, inside the caller's transaction.

Nothing is sent here: delivery rows are added to the session, and the sender
is woken once the transaction commits (see syncd/wakeup.py). A rolled-back
change therefore never produces an event, and a committed one always has its
rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.timeutil import utc_iso, utcnow
from syncd.wakeup import OUTBOX_DIRTY
from syncd.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription


class EventType(StrEnum):
    BOOKING_CREATED = "booking.created"
    BOOKING_RESCHEDULED = "booking.rescheduled"  # new time and/or staff member
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_STATUS_CHANGED = "booking.status_changed"  # e.g. approved, or back to pending
    CONFLICT_DETECTED = "conflict.detected"
    CONFLICT_RESOLVED = "conflict.resolved"
    MIRROR_DEAD_LETTERED = "mirror.dead_lettered"  # a calendar write was given up on
    BOOKING_RATED = "booking.rated"  # the customer gave or changed a rating
    # a pass set events on a staff calendar apart as unreadable (syncd/webhooks/unreadable.py)
    CALENDAR_EVENT_UNREADABLE = "calendar.event_unreadable"
    # a bound calendar's credentials were refused (syncd/webhooks/auth_error.py)
    BINDING_AUTH_ERROR = "binding.auth_error"


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def envelope(event_type: EventType, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The body, shaped as Standard Webhooks recommends, serialised once for good."""
    payload = {"type": str(event_type), "timestamp": utc_iso(occurred_at), "data": data}
    return json.dumps(payload, separators=(",", ":"))


def subscribers(
    session: Session, merchant_id: int, event_type: EventType
) -> list[WebhookSubscription]:
    """The merchant's enabled subscriptions that asked for `event_type`."""
    query = select(WebhookSubscription).where(
        WebhookSubscription.merchant_id == merchant_id, WebhookSubscription.enabled.is_(True)
    )
    found = session.scalars(query.order_by(WebhookSubscription.id))
    return [s for s in found if event_type in s.event_types]


def queue_event(
    session: Session,
    targets: list[WebhookSubscription],
    event_type: EventType,
    data: dict[str, Any],
    *,
    booking_id: int | None,
) -> None:
    """One delivery per target, all with the same body; `booking_id` names their lane."""
    now = utcnow()
    body = envelope(event_type, now, data)
    session.add_all(
        WebhookDelivery(
            subscription_id=target.id,
            booking_id=booking_id,
            message_id=new_message_id(),
            event_type=str(event_type),
            body=body,
            state=DeliveryState.PENDING,
            attempts=0,
            created_at=now,
            queued_at=now,
            next_attempt_at=now,
        )
        for target in targets
    )
    if targets:
        session.info[OUTBOX_DIRTY] = True

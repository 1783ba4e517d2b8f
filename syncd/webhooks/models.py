"""The webhook tables: a merchant's subscriptions, and one delivery row per event and subscription.

A delivery row is the outbox entry. It is inserted in the transaction that
made the change, keeps the exact body and webhook-id it will be sent with on
every attempt, and leaves `pending` only once an outcome is recorded. Rows of
one subscription and one booking form a lane, delivered in id order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, a retry, or its lane
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # refused for good, or still failing when the retry period ended


class WebhookSubscription(Base):
    """Where a merchant's events go, which of them, and the secret(s) they are signed with."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(200))
    # after a rotation the old secret signs too, until it expires
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event on its way to one subscription."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # a subscription's due rows in order; a lane's earlier rows; the earliest due overall
        Index("ix_webhook_deliveries_due", "subscription_id", "state", "next_attempt_at", "id"),
        Index("ix_webhook_deliveries_lane", "subscription_id", "booking_id", "state", "id"),
        Index("ix_webhook_deliveries_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))  # its lane
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # the webhook-id header
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # exactly the bytes signed and sent
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]  # when the event happened
    queued_at: Mapped[datetime]  # start of the retry period: creation, or a redelivery
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # the endpoint's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]

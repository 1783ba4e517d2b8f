"""The tables of notifications: the mail outbox, scheduled reminders, and who wants what.

An outbox row is one message to one recipient, queued in the transaction of
the change that causes it and sent by the mail sender (syncd/notify/sender.py).
Its life:

    queued ──claim──▶ sending ──250──▶ sent
      │ ▲               │
      │ └──4xx / outage─┤
      │                 └──5xx, bad address, attempts used up──▶ failed
      └──its booking cancelled before it went out (reminders)──▶ withdrawn

`message_id` is fixed when a row is first claimed, in the same commit that
marks it `sending`; every later attempt carries the same Message-ID, so a
message resent after a crash is recognisable as the same message.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base
from syncd.timeutil import utcnow


class OutboxState(StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed; may already have reached the server
    SENT = "sent"
    FAILED = "failed"  # refused for good, or every attempt used up
    WITHDRAWN = "withdrawn"  # a reminder whose booking was cancelled before it went out


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    MERCHANT = "merchant"


class ReminderKind(StrEnum):
    REMINDER = "reminder"  # `minutes` before the start
    FOLLOW_UP = "follow_up"  # `minutes` after the end
    RATING = "rating"  # a rating request, `minutes` after the end


class ReminderState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # its message is in the outbox (reminder_id points here)
    DROPPED = "dropped"  # the booking was cancelled
    MISSED = "missed"  # came due while nothing could send it, beyond the grace window
    SKIPPED = "skipped"  # nothing to send: its time had passed when scheduled, no address


class OutboxMessage(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    # at most one message per reminder, whatever happens
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # what the message says, frozen when queued (see syncd/notify/facts.py)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # a customer's manage link, sealed with the manage secret; erased once sent
    manage_link: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.QUEUED)
    message_id: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Reminder(Base):
    """A message due at a time relative to the booking: moved with it, dropped on cancel."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("booking_id", "kind", "minutes"),
        Index("ix_reminders_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MerchantNotificationSettings(Base):
    __tablename__ = "merchant_notification_settings"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    reply_to: Mapped[str | None] = mapped_column(String(320))
    # {"new": true, "rescheduled": false, ...}; a kind not named is wanted
    events: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StaffNotificationSettings(Base):
    __tablename__ = "staff_notification_settings"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    events: Mapped[dict[str, Any]] = mapped_column(default=dict)

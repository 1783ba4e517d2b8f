"""The tables of reconciliation: each calendar's watch state, what was seen on it, conflicts.

    reconcile_states  one per bound calendar: the change-feed cursor, its window, when next
    seen_events       events syncd did not write, seen in the window (etag, busy or not)
    observed_busy     their busy intervals, per staff member, for the slot finder
    conflicts         what did not agree, with both sides, open or resolved (kept as history)

A conflict is open while `open_key` is set; the key names the booking, the
calendar, the kind and (for an overlap) the foreign event, and is unique, so
the same drift seen on every pass stays one conflict.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base

KEY_LENGTH = 255


class Rule(StrEnum):
    """What happens when a mirrored event no longer shows its booking."""

    BOOKING_WINS = "booking_wins"  # the event is put back as the booking says
    CALENDAR_WINS = "calendar_wins"  # a move reschedules the booking; a deletion is a conflict
    FLAG = "flag"  # nothing changes: a conflict is recorded and the merchant told


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReconcileState(Base):
    __tablename__ = "reconcile_states"

    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)  # the connector's, opaque
    window_start: Mapped[datetime | None]  # the window the cursor was made for
    window_end: Mapped[datetime | None]
    next_pass_at: Mapped[datetime] = mapped_column(index=True)
    last_pass_at: Mapped[datetime | None]
    last_complete_at: Mapped[datetime | None]  # the last complete listing
    last_reset_reason: Mapped[str | None] = mapped_column(Text)  # why a cursor was refused
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    passes: Mapped[int] = mapped_column(Integer, default=0)
    # [{"event": remote id, "reason": ...}]: events set apart (syncd/reconcile/unreadable.py)
    unreadable: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


class SeenEvent(Base):
    """An event syncd did not write, as last seen on a bound calendar."""

    __tablename__ = "seen_events"
    __table_args__ = (UniqueConstraint("binding_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"))
    remote_id: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(200))
    # a copy carrying a booking's tag: busy time, but never a conflict with that booking
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    # its UID and syncd tag (None when longer than any booking's UID can be): an event
    # naming a booking is never that booking's double booking, even when it was seen
    # before the booking existed (a rebuilt store) and `booking_id` could not be set
    uid: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    tag: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    busy: Mapped[bool] = mapped_column(Boolean)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)


class ObservedBusy(Base):
    """One busy interval of a seen event, within the window it was seen in."""

    __tablename__ = "observed_busy"
    __table_args__ = (Index("ix_observed_busy_staff", "staff_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seen_event_id: Mapped[int] = mapped_column(ForeignKey("seen_events.id"), index=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    start: Mapped[datetime]
    end: Mapped[datetime]


class CalendarConflict(Base):
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_merchant", "merchant_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"))
    kind: Mapped[str] = mapped_column(String(16))  # syncd.webhooks.emit.ConflictKind
    status: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(16))  # the rule in force when it was found
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    remote_id: Mapped[str | None] = mapped_column(String(2000))  # the event it is about
    # {"start", "end", "status", "version"} of the booking when last seen
    booking_side: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"event", "etag", "start", "end", "busy"}: what the calendar showed (times None: gone)
    calendar_side: Mapped[dict[str, Any]] = mapped_column(JSON)
    detected_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))  # emit.Resolution
    resolved_by: Mapped[str | None] = mapped_column(String(16))  # merchant, reconciliation
    reason: Mapped[str | None] = mapped_column(Text)

"""What the database says about the whole deployment, read in one short transaction.

Every query touches only rows that are waiting (pending mirrors, queued mail,
undelivered webhooks) through the indexes the senders use themselves, plus
the bindings table, so a reading stays cheap however much history there is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, func, select, text

from syncd.notify.models import OutboxMessage, OutboxState
from syncd.store.models import BindingState, Booking, CalendarBinding, Mirror
from syncd.webhooks.models import DeliveryState, WebhookDelivery

BINDING_STATES = ("inactive", "auth_error", "paused", "leased", "idle")
MAIL_STATES = (OutboxState.QUEUED, OutboxState.SENDING, OutboxState.FAILED)
MAIL_WAITING = (OutboxState.QUEUED, OutboxState.SENDING)
WEBHOOK_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


@dataclass(frozen=True)
class MirrorBacklog:
    pending: int = 0  # waiting to be written (not dead-lettered)
    dead: int = 0
    oldest_change: datetime | None = None  # the earliest booking change still not written


@dataclass(frozen=True)
class Queue:
    """An outbox: how many rows per state, and when the oldest waiting one was queued."""

    counts: dict[str, int]
    oldest_waiting: datetime | None


@dataclass(frozen=True)
class Reading:
    mirrors: dict[str, MirrorBacklog]  # by account (the [connectors.<name>] table)
    bindings: dict[tuple[str, str], int]  # (account, state) -> calendars
    mail: Queue
    webhooks: Queue


def read(connection: Connection, now: datetime, timeout_seconds: float) -> Reading:
    """One consistent-enough reading; on PostgreSQL no statement may outlast the timeout."""
    if connection.dialect.name == "postgresql":
        milliseconds = str(max(1, int(timeout_seconds * 1000)))
        connection.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": milliseconds}
        )
    return Reading(
        mirrors=_mirrors(connection),
        bindings=_bindings(connection, now),
        mail=_queue(connection, OutboxMessage, MAIL_STATES, MAIL_WAITING),
        webhooks=_queue(connection, WebhookDelivery, WEBHOOK_STATES, (DeliveryState.PENDING,)),
    )


def _mirrors(connection: Connection) -> dict[str, MirrorBacklog]:
    # Dead mirrors stay pending, so one pass over the pending rows (ix_mirrors_due) counts both.
    query = (
        select(CalendarBinding.connector, Mirror.dead, func.count(), func.min(Booking.updated_at))
        .select_from(Mirror)
        .join(CalendarBinding, Mirror.binding_id == CalendarBinding.id)
        .join(Booking, Mirror.booking_id == Booking.id)
        .where(Mirror.pending.is_(True))
        .group_by(CalendarBinding.connector, Mirror.dead)
    )
    backlog: dict[str, MirrorBacklog] = {}
    for account, dead, count, oldest in connection.execute(query):
        known = backlog.get(account, MirrorBacklog())
        if dead:
            backlog[account] = MirrorBacklog(known.pending, count, known.oldest_change)
        else:
            backlog[account] = MirrorBacklog(count, known.dead, oldest)
    return backlog


def _bindings(connection: Connection, now: datetime) -> dict[tuple[str, str], int]:
    state = case(
        (CalendarBinding.active.is_(False), "inactive"),
        (CalendarBinding.state == BindingState.AUTH_ERROR, "auth_error"),
        (CalendarBinding.paused_until > now, "paused"),
        (CalendarBinding.lease_expires_at > now, "leased"),
        else_="idle",
    )
    # Grouped outside: PostgreSQL would not see two renderings of `state` as one expression.
    rows = select(CalendarBinding.connector, state.label("state")).subquery()
    query = select(rows.c.connector, rows.c.state, func.count()).group_by(
        rows.c.connector, rows.c.state
    )
    return {(account, state): count for account, state, count in connection.execute(query)}


def _queue(
    connection: Connection,
    table: type[OutboxMessage] | type[WebhookDelivery],
    states: tuple[str, ...],
    waiting: tuple[str, ...],
) -> Queue:
    """Rows per state of `states`; the oldest queued of those in a `waiting` state."""
    query = (
        select(table.state, func.count(), func.min(table.queued_at))
        .where(table.state.in_([str(s) for s in states]))
        .group_by(table.state)
    )
    counts: dict[str, int] = {}
    oldest: list[datetime] = []
    for state, count, first in connection.execute(query):
        counts[state] = count
        if state in waiting and first is not None:
            oldest.append(first)
    return Queue(counts, min(oldest, default=None))

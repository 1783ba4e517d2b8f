"""The mail sender's side of the outbox: claiming due messages, recording what happened.

Exactly once, as far as SMTP allows: a row is claimed (`sending`, its
Message-ID fixed) in a commit before it is handed to the transport, and
recorded `sent` after the server accepted it. A sender that dies between the
two leaves the row `sending`; once its claim expires (at once on SQLite, whose
single process releases every claim when it starts) the row is sent again
with the same Message-ID, so the receiver can recognise the repeat. A message
is never re-created under a new Message-ID, and none is lost.

Claims, their heartbeat and release are those of every durable queue
(syncd/store/queue.py); the Message-ID is mail's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from syncd.notify.models import OutboxMessage, OutboxState
from syncd.store.queue import LeaseColumns, QueueTable

_CLAIMS = LeaseColumns(OutboxMessage, OutboxMessage.claimed_by, OutboxMessage.claim_expires_at)
MAIL = QueueTable(
    model=OutboxMessage,
    id=OutboxMessage.id,
    # a `sending` row whose claim expired: its sender died, perhaps after the server took it
    waiting=OutboxMessage.state.in_((OutboxState.QUEUED, OutboxState.SENDING)),
    next_attempt_at=OutboxMessage.next_attempt_at,
    lease=_CLAIMS,
)


@dataclass(frozen=True)
class Letter:
    """A claimed outbox row, detached from its session: all the sender needs."""

    outbox_id: int
    kind: str
    audience: str
    to_address: str
    to_name: str
    timezone: str
    payload: dict[str, Any]
    message_id: str  # always set once claimed
    attempts: int
    queued_at: datetime
    manage_link: str | None = None  # sealed (syncd/notify/sealed.py)


def message_id_for(outbox_id: int, payload: dict[str, Any], domain: str) -> str:
    uid = payload.get("facts", {}).get("uid")
    local = f"outbox-{outbox_id}.{uid}" if uid else f"outbox-{outbox_id}"
    return f"<{local}@{domain}>"


_LETTER_COLUMNS = (
    OutboxMessage.id.label("outbox_id"),
    OutboxMessage.kind,
    OutboxMessage.audience,
    OutboxMessage.to_address,
    OutboxMessage.to_name,
    OutboxMessage.timezone,
    OutboxMessage.payload,
    OutboxMessage.message_id,
    OutboxMessage.attempts,
    OutboxMessage.queued_at,
    OutboxMessage.manage_link,
)


def claim_due(
    session: Session, owner: str, now: datetime, *, lease: timedelta, limit: int, domain: str
) -> list[Letter]:
    """Due rows nobody holds, marked `sending` by `owner` with their Message-ID fixed."""
    query = (
        select(*_LETTER_COLUMNS)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    rows = MAIL.claim(session, query, owner, now + lease, now, state=OutboxState.SENDING)
    # the first claim fixes the Message-ID; every later one keeps it
    fresh = [
        {"id": row.outbox_id, "message_id": message_id_for(row.outbox_id, row.payload, domain)}
        for row in rows
        if row.message_id is None
    ]
    if fresh:
        session.execute(update(OutboxMessage), fresh)  # by primary key, in one round trip
    fixed = {values["id"]: values["message_id"] for values in fresh}
    return [
        Letter(**(row._asdict() | {"message_id": fixed.get(row.outbox_id, row.message_id)}))
        for row in rows
    ]


def extend_claims(session: Session, ids: list[int], owner: str, until: datetime) -> None:
    _CLAIMS.extend(session, until, OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == owner)


def mark_sent(session: Session, ids: list[int], now: datetime) -> None:
    session.execute(
        MAIL.update(OutboxMessage.id.in_(ids))
        .values(
            state=OutboxState.SENT, sent_at=now, claimed_by=None, claim_expires_at=None,
            last_error=None, attempts=OutboxMessage.attempts + 1, manage_link=None,
        )
    )


def _held(owner: str) -> list[ColumnElement[bool]]:
    """Still ours: a claim that expired may have passed to another sender, whose word stands."""
    return [OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_by == owner]


def mark_failed(session: Session, outbox_id: int, owner: str, error: str) -> None:
    session.execute(
        MAIL.update(OutboxMessage.id == outbox_id, *_held(owner))
        .values(
            state=OutboxState.FAILED, claimed_by=None, claim_expires_at=None, last_error=error,
            attempts=OutboxMessage.attempts + 1,
        )
    )


def mark_retry(
    session: Session, outbox_id: int, owner: str, error: str, retry_at: datetime
) -> None:
    session.execute(
        MAIL.update(OutboxMessage.id == outbox_id, *_held(owner))
        .values(
            state=OutboxState.QUEUED, claimed_by=None, claim_expires_at=None, last_error=error,
            next_attempt_at=retry_at, attempts=OutboxMessage.attempts + 1,
        )
    )


def release(
    session: Session, ids: list[int], owner: str, retry_at: datetime, error: str | None
) -> None:
    """Give claimed rows back without spending an attempt (an outage, or shutting down)."""
    session.execute(
        MAIL.update(OutboxMessage.id.in_(ids), *_held(owner))
        .values(
            state=OutboxState.QUEUED, claimed_by=None, claim_expires_at=None,
            next_attempt_at=retry_at, last_error=error,
        )
    )


def release_all_claims(session: Session) -> None:
    """Every claim is stale: the one process that owns an SQLite database is starting."""
    _CLAIMS.release(session)


def next_due_time(session: Session, now: datetime) -> datetime | None:
    """When the earliest waiting row becomes due, or a claim of a vanished sender expires."""
    return MAIL.next_due_time(session, now)

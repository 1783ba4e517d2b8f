"""The mail outbox in the store: queueing, claiming, and recording what happened.

Exactly once, as far as SMTP allows: a row is claimed (`sending`, its
Message-ID fixed) in a commit before it is handed to the transport, and
recorded `sent` after the server accepted it. A sender that dies between the
two leaves the row `sending`; once its claim expires (at once on SQLite, whose
single process releases every claim when it starts) the row is sent again
with the same Message-ID, so the receiver can recognise the repeat. A message
is never re-created under a new Message-ID, and none is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, func, or_, select, update
from sqlalchemy.orm import Session

from syncd.errors import Conflict
from syncd.notify.models import OutboxMessage, OutboxState
from syncd.notify.recipients import Addressee
from syncd.notify.sealed import LinkSeal
from syncd.store.models import Booking
from syncd.store.session import SyncdSession
from syncd.wakeup import OUTBOX_DIRTY

_CLAIMABLE = (OutboxState.QUEUED, OutboxState.SENDING)


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


def queue_message(
    session: SyncdSession,
    booking: Booking,
    addressee: Addressee,
    payload: dict[str, Any],
    *,
    now: datetime,
    reminder_id: int | None = None,
    manage_link: str | None = None,
) -> None:
    """Add a message to the outbox in the caller's transaction; the sender wakes on commit.

    `manage_link` is stored sealed with the manage secret, never as it is.
    """
    if manage_link is not None:
        manage_link = LinkSeal(session.manage.secret()).seal(manage_link)
    _queue(session, booking.merchant_id, addressee, payload, now=now,
           booking_id=booking.id, reminder_id=reminder_id, manage_link=manage_link)


def queue_notice(
    session: Session, merchant_id: int, addressee: Addressee, payload: dict[str, Any],
    *, now: datetime,
) -> None:
    """`queue_message` for a notice about no booking (a calendar's, say): its own lane."""
    _queue(session, merchant_id, addressee, payload, now=now)


def _queue(
    session: Session,
    merchant_id: int,
    addressee: Addressee,
    payload: dict[str, Any],
    *,
    now: datetime,
    booking_id: int | None = None,
    reminder_id: int | None = None,
    manage_link: str | None = None,
) -> None:
    session.add(
        OutboxMessage(
            merchant_id=merchant_id,
            booking_id=booking_id,
            reminder_id=reminder_id,
            kind=addressee.kind,
            audience=addressee.audience,
            to_address=addressee.address,
            to_name=addressee.name,
            timezone=addressee.timezone,
            payload=payload,
            manage_link=manage_link,
            state=OutboxState.QUEUED,
            attempts=0,
            next_attempt_at=now,
            queued_at=now,
        )
    )
    session.info[OUTBOX_DIRTY] = True


def message_id_for(outbox_id: int, payload: dict[str, Any], domain: str) -> str:
    uid = payload.get("facts", {}).get("uid")
    local = f"outbox-{outbox_id}.{uid}" if uid else f"outbox-{outbox_id}"
    return f"<{local}@{domain}>"


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxMessage.state.in_(_CLAIMABLE),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claim_expires_at.is_(None), OutboxMessage.claim_expires_at < now),
    ]


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
        .where(*_claimable(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(query).all()
    if not rows:
        return []
    session.execute(
        _update(OutboxMessage.id.in_([row.outbox_id for row in rows]))
        .values(state=OutboxState.SENDING, claimed_by=owner, claim_expires_at=now + lease)
    )
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


def _update(*conditions: ColumnElement[bool]) -> Update:
    # the rows are not loaded in the recording session: nothing to synchronise
    return (
        update(OutboxMessage)
        .where(*conditions)
        .execution_options(synchronize_session=False)
    )


def extend_claims(session: Session, ids: list[int], owner: str, until: datetime) -> None:
    session.execute(
        _update(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == owner)
        .values(claim_expires_at=until)
    )


def mark_sent(session: Session, ids: list[int], now: datetime) -> None:
    session.execute(
        _update(OutboxMessage.id.in_(ids))
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
        _update(OutboxMessage.id == outbox_id, *_held(owner))
        .values(
            state=OutboxState.FAILED, claimed_by=None, claim_expires_at=None, last_error=error,
            attempts=OutboxMessage.attempts + 1,
        )
    )


def mark_retry(
    session: Session, outbox_id: int, owner: str, error: str, retry_at: datetime
) -> None:
    session.execute(
        _update(OutboxMessage.id == outbox_id, *_held(owner))
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
        _update(OutboxMessage.id.in_(ids), *_held(owner))
        .values(
            state=OutboxState.QUEUED, claimed_by=None, claim_expires_at=None,
            next_attempt_at=retry_at, last_error=error,
        )
    )


def release_all_claims(session: Session) -> None:
    """Every claim is stale: the one process that owns an SQLite database is starting."""
    session.execute(
        _update(OutboxMessage.claim_expires_at.is_not(None))
        .values(claim_expires_at=None, claimed_by=None)
    )


def next_due_time(session: Session) -> datetime | None:
    """When the earliest waiting row becomes due, or a claim of a vanished sender expires."""
    waiting = select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.state == OutboxState.QUEUED
    )
    claimed = select(func.min(OutboxMessage.claim_expires_at)).where(
        OutboxMessage.state == OutboxState.SENDING
    )
    times = [t for t in (session.scalar(waiting), session.scalar(claimed)) if t is not None]
    return min(times) if times else None


def retry_now(session: Session, row: OutboxMessage, now: datetime) -> None:
    """A failed or waiting message tried again now, with fresh attempts.

    Not one that was sent or is being sent (it would arrive twice), nor a
    withdrawn reminder (its booking is cancelled).
    """
    if row.state not in (OutboxState.FAILED, OutboxState.QUEUED):
        raise Conflict(f"the message is {row.state}; only a failed or queued one can be retried")
    row.state, row.attempts, row.next_attempt_at = OutboxState.QUEUED, 0, now
    row.claimed_by, row.claim_expires_at = None, None
    session.flush()
    session.info[OUTBOX_DIRTY] = True

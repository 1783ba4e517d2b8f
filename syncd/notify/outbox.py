"""Queueing mail in the outbox, inside the caller's transaction.

Nothing is sent here: outbox rows are added to the session, and the mail
sender is woken once the transaction commits (see syncd/wakeup.py); it claims
and sends them through syncd/notify/queue.py. A rolled-back change therefore
never sends mail, and a committed one always has its rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from syncd.errors import Conflict
from syncd.notify.models import OutboxMessage, OutboxState
from syncd.notify.recipients import Addressee
from syncd.notify.sealed import LinkSeal
from syncd.store.models import Booking
from syncd.store.session import SyncdSession
from syncd.wakeup import OUTBOX_DIRTY


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
    message = _message(booking.merchant_id, addressee, payload, now)
    message.booking_id, message.reminder_id = booking.id, reminder_id
    if manage_link is not None:
        message.manage_link = LinkSeal(session.manage.secret()).seal(manage_link)
    _queue(session, message)


def queue_notice(
    session: Session, merchant_id: int, addressee: Addressee, payload: dict[str, Any],
    *, now: datetime, link: tuple[str, str | None] | None = None,
) -> None:
    """`queue_message` for a notice about no booking (a calendar's, say): its own lane.

    `link`: a secret link the message carries and the manage secret it is sealed with.
    """
    message = _message(merchant_id, addressee, payload, now)
    if link is not None:
        message.manage_link = LinkSeal(link[1]).seal(link[0])
    _queue(session, message)


def _message(
    merchant_id: int, addressee: Addressee, payload: dict[str, Any], now: datetime
) -> OutboxMessage:
    return OutboxMessage(
        merchant_id=merchant_id,
        kind=addressee.kind,
        audience=addressee.audience,
        to_address=addressee.address,
        to_name=addressee.name,
        timezone=addressee.timezone,
        payload=payload,
        state=OutboxState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        queued_at=now,
    )


def _queue(session: Session, message: OutboxMessage) -> None:
    session.add(message)
    session.info[OUTBOX_DIRTY] = True


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

"""Reminders and follow-ups: rows scheduled with the booking, sent when due.

Scheduled when a booking is made (from its service's offsets, which later
changes to the service leave alone), moved in the transaction that
reschedules it, dropped in the one that cancels it. When one comes due the
sender turns it into an outbox message in one transaction; `mail_outbox`'s
unique `reminder_id` means a reminder can never become two messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus
from syncd.manage.ratings import rating_link
from syncd.notify.facts import booking_facts
from syncd.notify.kinds import MessageKind
from syncd.notify.models import (
    Audience,
    OutboxMessage,
    OutboxState,
    Reminder,
    ReminderKind,
    ReminderState,
)
from syncd.notify.outbox import queue_message
from syncd.notify.preferences import merchant_settings
from syncd.notify.recipients import Addressee
from syncd.store.changes import BookingChange, ChangeKind
from syncd.store.models import Booking, Service
from syncd.store.session import SyncdSession, manage_url
from syncd.wakeup import OUTBOX_DIRTY

_MESSAGES = {
    ReminderKind.REMINDER: MessageKind.REMINDER,
    ReminderKind.FOLLOW_UP: MessageKind.FOLLOW_UP,
    ReminderKind.RATING: MessageKind.RATING_REQUEST,
}
_AFTER_THE_END = {ReminderKind.FOLLOW_UP, ReminderKind.RATING}


@dataclass(frozen=True)
class ReminderRules:
    grace: timedelta  # how late a reminder may still go out after syncd was down
    follow_ups: bool


def due_time(kind: str, minutes: int, booking: Booking) -> datetime:
    if kind in _AFTER_THE_END:
        return booking.end + timedelta(minutes=minutes)
    return booking.start - timedelta(minutes=minutes)


def _armed(due: datetime, now: datetime) -> ReminderState:
    return ReminderState.SCHEDULED if due > now else ReminderState.SKIPPED


def follow_change(session: Session, change: BookingChange, now: datetime) -> None:
    """Keep the booking's reminders in step with it, in the change's transaction."""
    if change.kind == ChangeKind.CREATED:
        _schedule(session, change.booking, now)
    elif change.kind == ChangeKind.RESCHEDULED:
        _move(session, change.booking, now)
    elif change.kind == ChangeKind.CANCELLED:
        _drop(session, change.booking)


def _schedule(session: Session, booking: Booking, now: datetime) -> None:
    service = session.get(Service, booking.service_id)
    assert service is not None  # a booking's service is never deleted
    plans = [(ReminderKind.REMINDER, minutes) for minutes in service.reminder_minutes_before]
    if service.follow_up_minutes_after is not None:
        plans.append((ReminderKind.FOLLOW_UP, service.follow_up_minutes_after))
    if service.rating_request_minutes_after is not None:
        plans.append((ReminderKind.RATING, service.rating_request_minutes_after))
    for kind, minutes in plans:
        due = due_time(kind, minutes, booking)
        session.add(
            Reminder(booking_id=booking.id, kind=kind, minutes=minutes, due_at=due,
                     state=_armed(due, now))
        )
    if plans:
        session.info[OUTBOX_DIRTY] = True


def _move(session: Session, booking: Booking, now: datetime) -> None:
    """Every reminder not yet sent follows the new time; a sent one is never sent again."""
    query = select(Reminder).where(
        Reminder.booking_id == booking.id,
        Reminder.state.not_in([ReminderState.QUEUED, ReminderState.DROPPED]),
    )
    for reminder in session.scalars(query):
        reminder.due_at = due_time(reminder.kind, reminder.minutes, booking)
        reminder.state = _armed(reminder.due_at, now)
        session.info[OUTBOX_DIRTY] = True


def _drop(session: Session, booking: Booking) -> None:
    """Scheduled reminders dropped, and any already queued but not yet sent withdrawn."""
    session.execute(
        update(Reminder)
        .where(Reminder.booking_id == booking.id, Reminder.state == ReminderState.SCHEDULED)
        .values(state=ReminderState.DROPPED)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.booking_id == booking.id,
            OutboxMessage.reminder_id.is_not(None),
            OutboxMessage.state == OutboxState.QUEUED,
        )
        .values(state=OutboxState.WITHDRAWN)
    )


def promote_due(
    session: SyncdSession, now: datetime, rules: ReminderRules, limit: int = 200
) -> int:
    """Queue the messages of reminders that came due; returns how many were queued."""
    query = (
        select(Reminder)
        .where(Reminder.state == ReminderState.SCHEDULED, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    queued = 0
    for reminder in list(session.scalars(query)):
        booking = session.get(Booking, reminder.booking_id)
        assert booking is not None  # bookings are never deleted
        reminder.state = _outcome(reminder, booking, now, rules)
        if reminder.state == ReminderState.QUEUED:
            _queue(session, reminder, booking, now)
            queued += 1
    return queued


def _outcome(
    reminder: Reminder, booking: Booking, now: datetime, rules: ReminderRules
) -> ReminderState:
    if booking.status == BookingStatus.CANCELLED:
        return ReminderState.DROPPED
    too_late = now - reminder.due_at > rules.grace
    if too_late or (reminder.kind == ReminderKind.REMINDER and now >= booking.start):
        return ReminderState.MISSED
    if reminder.kind == ReminderKind.FOLLOW_UP and not rules.follow_ups:
        return ReminderState.SKIPPED
    return ReminderState.QUEUED if booking.customer_email else ReminderState.SKIPPED


def _queue(session: SyncdSession, reminder: Reminder, booking: Booking, now: datetime) -> None:
    assert booking.customer_email is not None  # checked by _outcome
    reply_to = merchant_settings(session, booking.merchant_id).reply_to
    facts = booking_facts(session, booking, reply_to=reply_to)
    addressee = Addressee(
        _MESSAGES[ReminderKind(reminder.kind)],
        Audience.CUSTOMER,
        booking.customer_email,
        booking.customer_name,
        booking.customer_timezone,
    )
    payload = {"facts": facts.to_json(), "minutes": reminder.minutes}
    # a rating request carries the rating link instead, sealed the same way (never stored raw)
    rating = reminder.kind == ReminderKind.RATING
    link = rating_link(session, booking) if rating else manage_url(session, booking)
    queue_message(session, booking, addressee, payload, now=now, reminder_id=reminder.id,
                  manage_link=link)


def next_due_time(session: Session) -> datetime | None:
    query = select(func.min(Reminder.due_at)).where(Reminder.state == ReminderState.SCHEDULED)
    return session.scalar(query)

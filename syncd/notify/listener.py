"""The listener that turns booking changes into mail, inside the change's transaction.

Named in syncd.wiring.CHANGE_LISTENERS. Everything it does (outbox rows,
reminders moved or dropped) commits or rolls back with the change itself.
"""

from __future__ import annotations

from typing import Any

from syncd.notify import recipients, reminders
from syncd.notify.facts import booking_facts
from syncd.notify.models import Audience
from syncd.notify.outbox import queue_message
from syncd.notify.preferences import merchant_settings
from syncd.store.changes import Actor, BookingChange
from syncd.store.session import SyncdSession, manage_url
from syncd.timeutil import utcnow


def on_booking_change(session: SyncdSession, change: BookingChange) -> None:
    now = utcnow()
    reminders.follow_change(session, change, now)
    if change.actor == Actor.IMPORT or change.booking.end <= now:
        return  # history (a back-fill, a late correction): nobody is told of it
    addressees = recipients.for_change(session, change)
    if not addressees:
        return
    booking = change.booking
    reply_to = merchant_settings(session, booking.merchant_id).reply_to
    facts = booking_facts(session, booking, reply_to=reply_to, before=change.before).to_json()
    for addressee in addressees:
        payload: dict[str, Any] = {"facts": facts, "role": addressee.role, "actor": change.actor}
        link = manage_url(session, booking) if addressee.audience == Audience.CUSTOMER else None
        queue_message(session, booking, addressee, payload, now=now, manage_link=link)

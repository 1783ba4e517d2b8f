"""Conflict notices: the merchant and the staff member hear that a calendar disagrees.

Queued by syncd/reconcile when it opens a conflict, in the same transaction.
Who is told follows the notification settings' "conflict" event; the customer
is not told (nothing has changed for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from syncd.notify.facts import booking_facts
from syncd.notify.kinds import MessageKind, NoticeEvent
from syncd.notify.models import Audience
from syncd.notify.outbox import queue_message
from syncd.notify.preferences import merchant_settings, merchant_wants, staff_wants
from syncd.notify.recipients import Addressee
from syncd.notify.times import format_span
from syncd.store.models import Booking, Merchant, Staff
from syncd.store.session import SyncdSession

KIND = MessageKind.CONFLICT_NOTICE


@dataclass(frozen=True)
class ConflictFacts:
    """What a notice says about the conflict itself."""

    conflict_id: int
    kind: str  # syncd.webhooks.emit.ConflictKind
    calendar: str  # the binding's key
    found_start: datetime | None
    found_end: datetime | None
    others: tuple[int, ...] = ()  # conflicts of the same calendar this notice tells of too


def notify_conflict(
    session: SyncdSession, booking: Booking, facts: ConflictFacts, now: datetime
) -> None:
    addressees = _merchant(session, booking) + _staff(session, booking)
    if not addressees or booking.end <= now:
        return
    reply_to = merchant_settings(session, booking.merchant_id).reply_to
    about = booking_facts(session, booking, reply_to=reply_to).to_json()
    for addressee in addressees:
        payload = {"facts": about, "conflict": _conflict(facts, addressee.timezone)}
        queue_message(session, booking, addressee, payload, now=now)


def _conflict(facts: ConflictFacts, zone_name: str) -> dict[str, Any]:
    found = None
    if facts.found_start is not None and facts.found_end is not None:
        found = format_span(facts.found_start, facts.found_end, zone_name)
    return {"id": facts.conflict_id, "kind": facts.kind, "calendar": facts.calendar,
            "found_when": found, "others": list(facts.others)}


def _merchant(session: Session, booking: Booking) -> list[Addressee]:
    merchant = session.get(Merchant, booking.merchant_id)
    settings = merchant_settings(session, booking.merchant_id)
    if merchant is None or not merchant_wants(settings, NoticeEvent.CONFLICT):
        return []
    return [
        Addressee(KIND, Audience.MERCHANT, address, merchant.name, merchant.timezone)
        for address in settings.addresses
    ]


def _staff(session: Session, booking: Booking) -> list[Addressee]:
    staff = session.get(Staff, booking.staff_id)
    if staff is None or not staff.email or not staff_wants(session, staff.id, NoticeEvent.CONFLICT):
        return []
    return [Addressee(KIND, Audience.STAFF, staff.email, staff.name, staff.timezone)]

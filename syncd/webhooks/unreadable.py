"""`calendar.event_unreadable`: a reconcile pass set events on a staff calendar apart as
unreadable (syncd/reconcile/unreadable.py). One event per calendar per pass, listing
every event that pass newly set apart, queued in the pass's transaction.

Each event is named by its href and UID, with the reason; not by its summary, which is
a staff member's own words about their own time (the merchant's notice shows it, and
`GET .../calendars/{b}/reconcile` lists it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from syncd.store.models import CalendarBinding, Merchant, Staff
from syncd.webhooks.outbox import EventType, queue_event, subscribers

_SENT = {"event": "href", "uid": "uid", "reason": "reason"}  # entry field → payload field


def emit_unreadable(
    session: Session, binding: CalendarBinding, entries: Sequence[dict[str, Any]], *, total: int
) -> None:
    staff = session.get_one(Staff, binding.staff_id)
    merchant = session.get_one(Merchant, staff.merchant_id)
    targets = subscribers(session, merchant.id, EventType.CALENDAR_EVENT_UNREADABLE)
    if not targets:
        return
    data = {
        "merchant": merchant.key,
        "calendar": {"staff": staff.key, "key": binding.key},
        "events": [{sent: entry.get(field) for field, sent in _SENT.items()} for entry in entries],
        "unreadable_total": total,
    }
    queue_event(session, targets, EventType.CALENDAR_EVENT_UNREADABLE, data, booking_id=None)

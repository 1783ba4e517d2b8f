"""`binding.auth_error`: a bound calendar went to auth_error, its credentials refused by
the calendar service. One event per transition (from ok or paused), queued in the
transaction that records it (syncd/worker/refused.py); a calendar that stays refused
sends nothing more until it has worked again or its account was reconnected.

The reason is in words chosen here by the connector's kind, never the service's
answer (it may quote anything); `GET .../calendars/{b}` shows `last_error`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from syncd.store.models import CalendarBinding, ConnectorAccount, Merchant, Staff
from syncd.webhooks.outbox import EventType, queue_event, subscribers

REASONS = {
    "caldav": "the calendar server refused the account's user name and password",
    "m365": "Microsoft refused the app's or the account's sign-in, or its calendar permission",
}
OTHER_REASON = "the calendar service refused the account's credentials"


def emit_binding_auth_error(
    session: Session, binding: CalendarBinding, account: ConnectorAccount | None, kind: str
) -> None:
    """`account`: the stored account the binding is on; None for a configured connector."""
    staff = session.get_one(Staff, binding.staff_id)
    merchant = session.get_one(Merchant, staff.merchant_id)
    targets = subscribers(session, merchant.id, EventType.BINDING_AUTH_ERROR)
    if not targets:
        return
    data = {
        "merchant": merchant.key,
        "calendar": {"staff": staff.key, "key": binding.key},
        "connector": None if account is not None else binding.connector,
        "account": None if account is None else account.key,
        "reason": REASONS.get(kind, OTHER_REASON),
    }
    queue_event(session, targets, EventType.BINDING_AUTH_ERROR, data, booking_id=None)

"""Unreadable-event notices: the merchant and the staff member hear that syncd set events on
a watched calendar apart (syncd/reconcile/unreadable.py): which events, why, and what it
means. One message per recipient per calendar per pass, telling of every event that pass
set apart; queued in the pass's transaction, as its notification settings' "unreadable"
event says. No booking is concerned: the message is composed from its "notice".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from syncd.notify.kinds import MessageKind, NoticeEvent
from syncd.notify.models import Audience, MerchantNotificationSettings
from syncd.notify.outbox import queue_notice
from syncd.notify.preferences import merchant_settings, merchant_wants, staff_wants
from syncd.notify.queue import Letter
from syncd.notify.recipients import Addressee
from syncd.store.models import CalendarBinding, Merchant, Staff

KIND = MessageKind.UNREADABLE_NOTICE
_SHOWN = ("event", "uid", "summary", "reason")  # of each entry: its etag is syncd's own


@dataclass(frozen=True)
class UnreadableNotice:
    """What the notice says, frozen into its outbox row when queued."""

    merchant_key: str
    merchant_name: str
    booking_page_url: str | None
    reply_to: str | None
    calendar: str  # the binding's key
    staff: str  # whose calendar it is
    events: tuple[dict[str, Any], ...]  # href ("event"), uid, summary, reason
    total: int  # events set apart on the calendar now, these among them

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"events": list(self.events)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnreadableNotice:
        return cls(**data | {"events": tuple(data["events"])})


def notify_unreadable(
    session: Session,
    binding: CalendarBinding,
    entries: Sequence[dict[str, Any]],
    *,
    total: int,
    now: datetime,
) -> None:
    """Queue the notice of `entries`, events a pass of `binding` newly set apart."""
    staff = session.get_one(Staff, binding.staff_id)
    merchant = session.get_one(Merchant, staff.merchant_id)
    settings = merchant_settings(session, merchant.id)
    addressees = _merchant(merchant, settings) + _staff(session, staff)
    events = tuple({name: entry.get(name) for name in _SHOWN} for entry in entries)
    notice = UnreadableNotice(merchant.key, merchant.name, merchant.booking_page_url,
                              settings.reply_to, binding.key, staff.name, events, total)
    for addressee in addressees:
        queue_notice(session, merchant.id, addressee, {"notice": notice.to_json()}, now=now)


def _merchant(merchant: Merchant, settings: MerchantNotificationSettings) -> list[Addressee]:
    if not merchant_wants(settings, NoticeEvent.UNREADABLE):
        return []
    return [Addressee(KIND, Audience.MERCHANT, address, merchant.name, merchant.timezone)
            for address in settings.addresses]


def _staff(session: Session, staff: Staff) -> list[Addressee]:
    if not staff.email or not staff_wants(session, staff.id, NoticeEvent.UNREADABLE):
        return []
    return [Addressee(KIND, Audience.STAFF, staff.email, staff.name, staff.timezone)]


def notice_context(letter: Letter, notice: UnreadableNotice) -> dict[str, Any]:
    """What the notice's templates see (base.txt / base.html read `merchant`)."""
    return {
        "recipient": {"name": letter.to_name, "audience": letter.audience},
        "merchant": {"key": notice.merchant_key, "name": notice.merchant_name,
                     "booking_page_url": notice.booking_page_url},
        "notice": notice,
    }

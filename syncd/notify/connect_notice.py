"""The connect-link message: a staff member is sent the link to connect their own calendar.

Queued in the transaction that issues the link (syncd/api/routes_connect.py), to
the staff member's address, whatever their notice settings say: the merchant
asked for it. The link is stored sealed in the outbox row (the manage links'
column and seal, syncd/notify/sealed.py) and erased once the message is sent.
No booking is concerned: the message is composed from its payload's "notice".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncd.notify.kinds import MessageKind
from syncd.notify.models import Audience
from syncd.notify.outbox import queue_notice
from syncd.notify.preferences import merchant_settings
from syncd.notify.queue import Letter
from syncd.notify.recipients import Addressee
from syncd.store.models import Merchant, Staff
from syncd.store.session import SyncdSession
from syncd.timetext import clock, long_day
from syncd.timeutil import zone

KIND = MessageKind.CONNECT_LINK


@dataclass(frozen=True)
class ConnectLinkNotice:
    """What the message says, frozen into its outbox row when queued."""

    merchant_key: str
    merchant_name: str
    booking_page_url: str | None
    reply_to: str | None
    staff_name: str
    expires: str  # when the link stops working, in the staff member's own time zone

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectLinkNotice:
        return cls(**data)


def send_connect_link(
    session: SyncdSession, staff: Staff, link: str, expires_at: datetime, *, now: datetime
) -> bool:
    """Queue the link to the staff member; False when they have no email address."""
    if not staff.email:
        return False
    merchant = session.get_one(Merchant, staff.merchant_id)
    notice = ConnectLinkNotice(
        merchant.key, merchant.name, merchant.booking_page_url,
        merchant_settings(session, merchant.id).reply_to, staff.name,
        _local(expires_at, staff.timezone),
    )
    addressee = Addressee(KIND, Audience.STAFF, staff.email, staff.name, staff.timezone)
    queue_notice(session, merchant.id, addressee, {"notice": notice.to_json()}, now=now,
                 link=(link, session.manage.secret()))
    return True


def _local(moment: datetime, zone_name: str) -> str:
    local = moment.astimezone(zone(zone_name))
    return f"{long_day(local)}, {clock(local)} ({zone_name})"


def notice_context(letter: Letter, notice: ConnectLinkNotice, link: str) -> dict[str, Any]:
    """What the message's templates see (base.txt / base.html read `merchant`)."""
    return {
        "recipient": {"name": letter.to_name, "audience": letter.audience},
        "merchant": {"key": notice.merchant_key, "name": notice.merchant_name,
                     "booking_page_url": notice.booking_page_url},
        "notice": notice,
        "connect_url": link,
    }

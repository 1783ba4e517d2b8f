"""The auth-error notice: a stored calendar account's credentials were refused.

The staff member who connected the account (else the calendar's own) and the
merchant's addresses are told once per auth error (syncd/worker/refused.py
decides when), whatever their notice settings say: nothing reaches that
calendar until someone acts. The message carries a reconnect link, a new connect
link of the staff member's, stored sealed in the outbox row like manage links;
without `manage.public_url` there is no link, and the message says whom to ask.
No booking is concerned: the message is composed from its payload's "notice".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from syncd.notify.kinds import MessageKind
from syncd.notify.models import Audience
from syncd.notify.outbox import queue_notice
from syncd.notify.preferences import merchant_settings
from syncd.notify.queue import Letter
from syncd.notify.recipients import Addressee
from syncd.store.models import Merchant, Staff

KIND = MessageKind.AUTH_ERROR_NOTICE
# what a person can do, by the account's kind; the service's own answer is not quoted
WORDS = {
    "caldav": "The calendar server no longer accepts the account's password: it was "
              "changed, or the app-specific password was revoked.",
    "m365": "Microsoft no longer accepts the account's sign-in: it expired or was revoked.",
}
OTHER_WORDS = "The calendar service no longer accepts the account's credentials."


@dataclass(frozen=True)
class AuthErrorNotice:
    """What the notice says, frozen into its outbox row when queued."""

    merchant_key: str
    merchant_name: str
    booking_page_url: str | None
    reply_to: str | None
    staff_name: str  # whose calendar stopped
    account: str  # the account's key
    calendars: tuple[str, ...]  # the staff member's calendars on it (binding keys)
    reason: str  # words for a person, no secret

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"calendars": list(self.calendars)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthErrorNotice:
        return cls(**data | {"calendars": tuple(data["calendars"])})


@dataclass(frozen=True)
class Refused:
    """Whose account was refused, and the link to reconnect it (None: no public URL)."""

    staff: Staff
    account_key: str
    kind: str
    calendars: tuple[str, ...]
    link: str | None
    manage_secret: str | None


def notify_auth_error(session: Session, refused: Refused, *, now: datetime) -> int:
    """Queue the notice to the staff member and the merchant's addresses; how many."""
    merchant = session.get_one(Merchant, refused.staff.merchant_id)
    settings = merchant_settings(session, merchant.id)
    notice = AuthErrorNotice(
        merchant.key, merchant.name, merchant.booking_page_url, settings.reply_to,
        refused.staff.name, refused.account_key, refused.calendars,
        WORDS.get(refused.kind, OTHER_WORDS),
    )
    link = None if refused.link is None else (refused.link, refused.manage_secret)
    addressees = _staff(refused.staff) + [
        Addressee(KIND, Audience.MERCHANT, address, merchant.name, merchant.timezone)
        for address in settings.addresses
    ]
    for addressee in addressees:
        queue_notice(session, merchant.id, addressee, {"notice": notice.to_json()}, now=now,
                     link=link)
    return len(addressees)


def _staff(staff: Staff) -> list[Addressee]:
    if not staff.email:
        return []
    return [Addressee(KIND, Audience.STAFF, staff.email, staff.name, staff.timezone)]


def notice_context(letter: Letter, notice: AuthErrorNotice, link: str | None) -> dict[str, Any]:
    """What the notice's templates see (base.txt / base.html read `merchant`)."""
    return {
        "recipient": {"name": letter.to_name, "audience": letter.audience},
        "merchant": {"key": notice.merchant_key, "name": notice.merchant_name,
                     "booking_page_url": notice.booking_page_url},
        "notice": notice,
        "connect_url": link,
    }

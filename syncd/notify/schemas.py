"""What the API accepts for notification settings."""

from __future__ import annotations

from pydantic import EmailStr, Field

from syncd.schemas import Strict


class NoticeEvents(Strict):
    """Which events a staff member or the merchant is told of."""

    new: bool = True
    rescheduled: bool = True
    cancelled: bool = True
    conflict: bool = True
    rated: bool = True
    unreadable: bool = True  # events on a staff calendar set apart as unreadable


class MerchantNotificationsIn(Strict):
    addresses: list[EmailStr] = Field(default_factory=list, max_length=20)
    reply_to: EmailStr | None = None  # on customer messages; else mail.reply_to
    events: NoticeEvents = Field(default_factory=NoticeEvents)


class StaffNotificationsIn(Strict):
    events: NoticeEvents = Field(default_factory=NoticeEvents)

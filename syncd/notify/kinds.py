"""The messages syncd sends, and what each one is about.

Adding a kind: a `MessageKind` member, its `KindInfo` entry, and the pair of
templates `<kind>.txt` / `<kind>.html` in syncd/notify/templates/; then queue
it where it arises (listener.py for booking changes). A kind about no booking says so
(`about_booking=False`) and is composed from its payload's "notice".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NoticeEvent(StrEnum):
    """What staff and merchants may opt in to or out of."""

    NEW = "new"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    CONFLICT = "conflict"
    RATED = "rated"  # a customer rated a booking
    UNREADABLE = "unreadable"  # events on a staff calendar set apart as unreadable


class CalendarMethod(StrEnum):
    """The iTIP method of a message's calendar part (RFC 5546)."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class MessageKind(StrEnum):
    CONFIRMATION = "confirmation"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    PENDING = "pending"
    REMINDER = "reminder"
    FOLLOW_UP = "follow_up"
    NEW_NOTICE = "new_notice"
    RESCHEDULE_NOTICE = "reschedule_notice"
    CANCEL_NOTICE = "cancel_notice"
    CONFLICT_NOTICE = "conflict_notice"  # a staff calendar disagrees (syncd/reconcile)
    RATING_REQUEST = "rating_request"  # a while after the booking ended
    RATING_NOTICE = "rating_notice"  # to the merchant: a customer rated a booking
    UNREADABLE_NOTICE = "unreadable_notice"  # events on a staff calendar set apart; no booking
    CONNECT_LINK = "connect_link"  # to a staff member: connect your calendar; no booking


@dataclass(frozen=True)
class KindInfo:
    calendar: CalendarMethod | None = None  # customer messages the customer's calendar follows
    event: NoticeEvent | None = None  # staff and merchant notices: the setting that gates them
    about_booking: bool = True  # else composed from its payload's "notice"


KINDS: dict[MessageKind, KindInfo] = {
    MessageKind.CONFIRMATION: KindInfo(CalendarMethod.REQUEST),
    MessageKind.RESCHEDULED: KindInfo(CalendarMethod.REQUEST),
    MessageKind.CANCELLED: KindInfo(CalendarMethod.CANCEL),
    # a tentative event holds the time until the merchant decides
    MessageKind.PENDING: KindInfo(CalendarMethod.REQUEST),
    MessageKind.REMINDER: KindInfo(),
    MessageKind.FOLLOW_UP: KindInfo(),
    MessageKind.NEW_NOTICE: KindInfo(event=NoticeEvent.NEW),
    MessageKind.RESCHEDULE_NOTICE: KindInfo(event=NoticeEvent.RESCHEDULED),
    MessageKind.CANCEL_NOTICE: KindInfo(event=NoticeEvent.CANCELLED),
    MessageKind.CONFLICT_NOTICE: KindInfo(event=NoticeEvent.CONFLICT),
    MessageKind.RATING_REQUEST: KindInfo(),
    MessageKind.RATING_NOTICE: KindInfo(event=NoticeEvent.RATED),
    MessageKind.UNREADABLE_NOTICE: KindInfo(event=NoticeEvent.UNREADABLE, about_booking=False),
    MessageKind.CONNECT_LINK: KindInfo(about_booking=False),
}

"""Notification settings: the merchant's addresses and events, each staff member's opt-outs.

Without a settings row a merchant has no notice addresses (customers are still
told) and a staff member wants every notice. An event kind a row does not name
is wanted, so a kind added later is on until someone turns it off.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from syncd.notify.kinds import NoticeEvent
from syncd.notify.models import MerchantNotificationSettings, StaffNotificationSettings
from syncd.notify.schemas import MerchantNotificationsIn, StaffNotificationsIn
from syncd.store.models import Merchant, Staff

_CACHE = "syncd.notify.preferences"
R = TypeVar("R", MerchantNotificationSettings, StaffNotificationSettings)


def _remembered(session: Session) -> dict[tuple[str, int], Any]:
    """Settings read in this transaction (a back-fill asks for the same ones often)."""
    return session.info.setdefault(_CACHE, {})  # type: ignore[no-any-return]


def merchant_settings(session: Session, merchant_id: int) -> MerchantNotificationSettings:
    remembered = _remembered(session)
    found = remembered.get(("merchant", merchant_id))
    if found is None:
        found = session.get(MerchantNotificationSettings, merchant_id)
    if found is None:
        found = MerchantNotificationSettings(merchant_id=merchant_id, addresses=[], events={})
    remembered[("merchant", merchant_id)] = found
    return found


def staff_wants(session: Session, staff_id: int, event: NoticeEvent) -> bool:
    remembered = _remembered(session)
    events = remembered.get(("staff", staff_id))
    if events is None:
        row = session.get(StaffNotificationSettings, staff_id)
        events = dict(row.events) if row else {}
        remembered[("staff", staff_id)] = events
    return bool(events.get(event, True))


def merchant_wants(settings: MerchantNotificationSettings, event: NoticeEvent) -> bool:
    return bool(settings.events.get(event, True))


def _stored(session: Session, model: type[R], owner: str, owner_id: int) -> R:
    """The settings row of one merchant or staff member (`owner` its key column), new
    if it has none; the rows cached in this transaction are read again after."""
    session.info.pop(_CACHE, None)
    row = session.get(model, owner_id)
    if row is None:
        row = model(**{owner: owner_id})
        session.add(row)
    return row


def put_merchant_settings(
    session: Session, merchant: Merchant, data: MerchantNotificationsIn
) -> MerchantNotificationSettings:
    row = _stored(session, MerchantNotificationSettings, "merchant_id", merchant.id)
    row.addresses = [str(address) for address in data.addresses]
    row.reply_to = data.reply_to
    row.events = data.events.model_dump()
    session.flush()
    return row


def put_staff_settings(
    session: Session, staff: Staff, data: StaffNotificationsIn
) -> StaffNotificationSettings:
    row = _stored(session, StaffNotificationSettings, "staff_id", staff.id)
    row.events = data.events.model_dump()
    session.flush()
    return row


def staff_events(session: Session, staff: Staff) -> dict[str, bool]:
    row = session.get(StaffNotificationSettings, staff.id)
    stored = row.events if row else {}
    return {event.value: bool(stored.get(event, True)) for event in NoticeEvent}


def merchant_events(settings: MerchantNotificationSettings) -> dict[str, bool]:
    return {event.value: merchant_wants(settings, event) for event in NoticeEvent}

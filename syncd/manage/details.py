"""The booking details page's data: one row, read by the link's token, made into a BookingPage.

The page is what every customer opens first and most often, so its read is a
single SELECT of just the columns shown (no ORM objects); the rules are then
judged on those values by the same pure functions every action uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, cast, select

from syncd.domain.manage_rules import (
    BookingFacts,
    action_states,
    contact_sentence,
    rules_from_text,
)
from syncd.manage.tokens import link_works, row_for_digest
from syncd.manage.views import BookingPage, zone_label
from syncd.store.models import Booking, ManageToken, Merchant, Service, Staff

DETAILS_ROW = (
    select(
        ManageToken.token_hash, ManageToken.revoked_at,
        Booking.key, Booking.status, Booking.start, Booking.end, Booking.customer_timezone,
        Booking.paid, cast(Booking.manage_rules, Text),  # as stored: see rules_from_text
        Staff.name, Service.name, Service.location,
        Merchant.name, Merchant.contact_text, Merchant.booking_page_url,
    )
    .join(Booking, Booking.id == ManageToken.booking_id)
    .join(Staff, Staff.id == Booking.staff_id)
    .join(Service, Service.id == Booking.service_id)
    .join(Merchant, Merchant.id == Booking.merchant_id)
    .where(ManageToken.token_hash == bindparam("digest"))
)


def details_page(row: tuple[Any, ...] | None, digest: str, now: datetime) -> BookingPage | None:
    """The page for a DETAILS_ROW, or None when the link opens nothing (any reason alike)."""
    found = row_for_digest(digest, row)
    if found is None:
        return None
    (_, revoked_at, key, status, start, end, timezone, paid, rules_json,
     staff_name, service_name, location, merchant_name, contact_text, booking_page_url) = found
    if not link_works(revoked_at, end, now):
        return None
    contact = contact_sentence(contact_text, merchant_name)
    facts = BookingFacts(status, start, end)
    zone = ZoneInfo(timezone)
    start_local = start.astimezone(zone)
    return BookingPage(
        booking_key=key,
        service_name=service_name,
        staff_name=staff_name,
        start_local=start_local,
        end_local=end.astimezone(zone),
        timezone=timezone,
        zone_label=zone_label(timezone, start_local),
        duration_minutes=int((end - start).total_seconds() // 60),
        location=location,
        status=status,
        paid=bool(paid),
        actions=action_states(rules_from_text(rules_json), facts, now, contact),
        contact_text=contact,
        booking_page_url=booking_page_url,
        merchant_name=merchant_name,
    )


"""The merchant told of a customer's rating, as its notification settings say (`rated`)."""

from __future__ import annotations

from datetime import datetime

from syncd.notify.facts import booking_facts
from syncd.notify.kinds import MessageKind, NoticeEvent
from syncd.notify.models import Audience
from syncd.notify.outbox import queue_message
from syncd.notify.preferences import merchant_settings, merchant_wants
from syncd.notify.recipients import Addressee
from syncd.store.models import Booking, Merchant
from syncd.store.session import SyncdSession


def tell_merchant_of_rating(
    session: SyncdSession, booking: Booking, rating: dict[str, object], now: datetime
) -> None:
    """One notice per merchant address; `rating` is what the notice shows of it."""
    settings = merchant_settings(session, booking.merchant_id)
    merchant = session.get_one(Merchant, booking.merchant_id)
    if not merchant_wants(settings, NoticeEvent.RATED):
        return
    facts = booking_facts(session, booking, reply_to=None).to_json()
    for address in settings.addresses:
        addressee = Addressee(MessageKind.RATING_NOTICE, Audience.MERCHANT, address,
                              merchant.name, merchant.timezone)
        queue_message(session, booking, addressee, {"facts": facts, "rating": rating}, now=now)

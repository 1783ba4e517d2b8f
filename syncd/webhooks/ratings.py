"""`booking.rated`: a customer gave or changed a rating, queued in the rating's transaction.

The payload carries the stars, not the comment: a comment is the customer's own
words, which webhook bodies never carry (syncd.webhooks.emit); the platform
reads it through `GET /api/v1/merchants/{m}/ratings`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from syncd.store.changes import Actor, Snapshot
from syncd.store.models import Booking
from syncd.webhooks.emit import booking_fields
from syncd.webhooks.outbox import EventType, queue_event, subscribers


def emit_rating(session: Session, booking: Booking, rating: dict[str, object]) -> None:
    targets = subscribers(session, booking.merchant_id, EventType.BOOKING_RATED)
    if not targets:
        return
    data = booking_fields(session, booking, Snapshot.of(booking))
    data |= {"rating": rating, "actor": str(Actor.CUSTOMER)}
    queue_event(session, targets, EventType.BOOKING_RATED, data, booking_id=booking.id)


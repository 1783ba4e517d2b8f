"""Customer ratings: the link in the rating request, the rating page's reads and writes.

A rating link follows the manage links' rules (syncd.manage.tokens): 256 random
bits of which only a SHA-256 is kept, one NotFound for every kind of wrong
link, revoked with the booking's manage links. It opens once the booking has
ended and works for `manage.rating_days`; a rating, one per booking, can be
changed for `manage.rating_change_hours` after it was first given. Giving or
changing one sends `booking.rated` and tells the merchant (notification
setting `rated`), in the rating's own transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from syncd.config.manage import ManageSettings
from syncd.domain.bookings import BookingStatus
from syncd.errors import NotFound
from syncd.manage.errors import ActionClosed
from syncd.manage.rating_models import BookingRating, RatingToken
from syncd.manage.slot_plan import UNKNOWN_LINK
from syncd.manage.tokens import TOKEN_BYTES, row_for_digest, token_digest, token_hash
from syncd.store.models import Booking
from syncd.store.session import SyncdSession
from syncd.timeutil import utc_iso, utcnow

_BY_TOKEN = (
    select(RatingToken.token_hash, RatingToken.revoked_at, Booking)
    .join(Booking, Booking.id == RatingToken.booking_id)
    .where(RatingToken.token_hash == bindparam("digest"))
)
_LOCKED = _BY_TOKEN.with_for_update(of=Booking)
MAX_COMMENT = 2000


@dataclass(frozen=True)
class GivenRating:
    stars: int
    comment: str


@dataclass(frozen=True)
class RatingPage:
    """What the rating page shows: the visit, the rating so far, until when it may change."""

    merchant_name: str
    service_name: str
    staff_name: str
    start: datetime
    end: datetime
    customer_timezone: str
    rating: GivenRating | None
    open_until: datetime | None  # None: it can no longer be given or changed


def rating_link(session: SyncdSession, booking: Booking) -> str | None:
    """A new rating link for the booking; None without `manage.public_url`."""
    settings = session.manage
    if settings.public_url is None:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(RatingToken(booking_id=booking.id, token_hash=token_hash(token),
                            created_at=utcnow()))
    session.flush()
    return f"{settings.link(token)}/rate"


def revoke_rating_links(session: Session, booking: Booking, now: datetime) -> int:
    result = session.execute(
        update(RatingToken)
        .where(RatingToken.booking_id == booking.id, RatingToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rated_booking(
    session: SyncdSession, token: str, now: datetime, *, lock: bool = False
) -> Booking:
    """The ended, uncancelled booking a working rating link names; NotFound for any other."""
    digest = token_digest(token)
    row = None if digest is None else session.execute(
        _LOCKED if lock else _BY_TOKEN, {"digest": digest}).one_or_none()
    found = row_for_digest(digest, row)
    if found is None:
        raise NotFound(UNKNOWN_LINK)
    _, revoked_at, booking = found
    settings = session.manage
    works = booking.end <= now < booking.end + timedelta(days=settings.rating_days)
    if revoked_at is not None or booking.status == BookingStatus.CANCELLED or not works:
        raise NotFound(UNKNOWN_LINK)
    return booking


def rating_page(session: SyncdSession, token: str, now: datetime) -> RatingPage:
    booking = rated_booking(session, token, now)
    rating = session.get(BookingRating, booking.id)
    return RatingPage(
        booking.merchant.name, booking.service.name, booking.staff.name, booking.start,
        booking.end, booking.customer_timezone,
        None if rating is None else GivenRating(rating.stars, rating.comment),
        _open_until(session.manage, rating, now),
    )


def _open_until(
    settings: ManageSettings, rating: BookingRating | None, now: datetime
) -> datetime | None:
    if rating is None:
        return now  # not given yet: open while the link works
    until = rating.rated_at + timedelta(hours=settings.rating_change_hours)
    return until if now < until else None


def rate(
    session: SyncdSession, token: str, stars: int, comment: str, now: datetime
) -> tuple[Booking, BookingRating]:
    """Give or change the booking's rating; ActionClosed once it can no longer change."""
    booking = rated_booking(session, token, now, lock=True)
    rating = session.get(BookingRating, booking.id)
    if _open_until(session.manage, rating, now) is None:
        raise ActionClosed("Your rating can no longer be changed. Thank you for it.")
    if rating is None:
        rating = BookingRating(booking_id=booking.id, merchant_id=booking.merchant_id,
                               rated_at=now)
        session.add(rating)
    rating.stars, rating.comment, rating.changed_at = stars, comment, now
    session.flush()
    return booking, rating


def rating_json(rating: BookingRating | None) -> dict[str, object] | None:
    """A rating as the API shows it (with the customer's comment)."""
    if rating is None:
        return None
    return {"stars": rating.stars, "comment": rating.comment,
            "rated_at": utc_iso(rating.rated_at),
            "changed_at": utc_iso(rating.changed_at)}

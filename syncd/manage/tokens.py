"""The secret in a manage link: 256 random bits, of which only a SHA-256 is stored.

A token names one booking and nothing else. It works until the booking's end
(a cancelled booking keeps showing its cancelled page until then) or until the
merchant revokes the booking's links. A wrong, expired, revoked, malformed or
tampered token are all simply "no booking": the caller shows one NotFound for
each, so nothing can be learnt from the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, contains_eager

from syncd.domain.bookings import BookingStatus
from syncd.domain.manage_rules import ManageRules
from syncd.store.models import Booking, ManageToken
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow

R = TypeVar("R", bound=Sequence[Any])

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)

# Built once: building a statement costs more than running it.
_BY_TOKEN = (
    select(ManageToken.token_hash, ManageToken.revoked_at, Booking)
    .join(Booking, Booking.id == ManageToken.booking_id)
    .join(Booking.merchant)
    .join(Booking.service)
    .join(Booking.staff)
    .options(contains_eager(Booking.merchant), contains_eager(Booking.service),
             contains_eager(Booking.staff))
    .where(ManageToken.token_hash == bindparam("digest"))
)
# only the booking: the joined merchant, service and staff rows are shared
_LOCKED = _BY_TOKEN.with_for_update(of=Booking).execution_options(populate_existing=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_digest(token: object) -> str | None:
    """The stored form of a token syncd could have issued; None for anything else."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        return None
    return token_hash(token)


def row_for_digest(digest: str | None, row: R | None) -> R | None:
    """`row`, whose first column is a stored token hash, when that hash is `digest`
    (compared in constant time); None otherwise."""
    if digest is None or row is None or not hmac.compare_digest(row[0], digest):
        return None
    return row


def link_works(revoked_at: datetime | None, booking_end: datetime, now: datetime) -> bool:
    """A manage link opens its booking until it is revoked or the booking ends."""
    return revoked_at is None and now < booking_end


def issue_token(session: Session, booking: Booking) -> str:
    """A new raw token for the booking's link; the database keeps only its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(ManageToken(booking_id=booking.id, token_hash=token_hash(token),
                            created_at=utcnow()))
    session.flush()
    return token


def may_manage(booking: Booking) -> bool:
    return ManageRules.from_json(booking.manage_rules).enabled


def manage_link(session: SyncdSession, booking: Booking) -> str | None:
    """The manage-link provider (syncd.wiring): a fresh link, or None where managing
    is not allowed."""
    settings = session.manage
    if settings.public_url is None or booking.status == BookingStatus.CANCELLED:
        return None
    if not may_manage(booking) or booking.end <= utcnow():
        return None
    return settings.link(issue_token(session, booking))


def find_booking(
    session: Session, token: str, now: datetime, *, lock: bool = False
) -> Booking | None:
    """The booking the token opens, or None; `lock` holds the booking row until commit.

    Its service, staff member and merchant come with it, in the same query.
    """
    digest = token_digest(token)
    if digest is None:
        return None
    row = session.execute(_LOCKED if lock else _BY_TOKEN, {"digest": digest}).one_or_none()
    found = row_for_digest(digest, row)
    if found is None:
        return None
    _, revoked_at, booking = found
    return booking if link_works(revoked_at, booking.end, now) else None


def revoke_links(session: Session, booking: Booking, now: datetime | None = None) -> int:
    """Every link of the booking stops working; how many were still working."""
    result = session.execute(
        update(ManageToken)
        .where(ManageToken.booking_id == booking.id, ManageToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)

"""The safety valve: a listing that would have many of syncd's events vanish at once is
checked with direct reads before it is believed.

A calendar rarely loses a fifth of its bookings' events between two passes;
a server, proxy or load balancer answering a listing wrongly does it all the
time. As vdirsyncer refuses to propagate a storage that suddenly became
empty, a pass whose feed reports more than `missing_share_to_verify` of the
calendar's live events gone first reads a sample of them directly: if any is
still there, the listing is wrong and the pass fails (transiently, its cursor
kept); if none is, the disappearance is real and its conflicts are announced
in one notice per calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Calendar, ChangeSet
from syncd.errors import TransientError
from syncd.store.dbthread import DatabaseThreads
from syncd.store.models import Booking, Mirror, Presence
from syncd.timeutil import utcnow

SAMPLE_SIZE = 5  # direct reads made to check a mass disappearance


class ListingNotBelievedError(TransientError):
    """The feed reported events gone that a direct read still finds."""


@dataclass(frozen=True)
class Disappearance:
    """syncd's live events on the calendar, and the booking UIDs of those reported gone."""

    live: int
    missing: list[str]

    def is_mass(self, share: float) -> bool:
        return len(self.missing) > 1 and len(self.missing) > share * self.live

    def sample(self) -> list[str]:
        """Up to SAMPLE_SIZE UIDs spread over the missing ones."""
        step = max(1, len(self.missing) // SAMPLE_SIZE)
        return self.missing[::step][:SAMPLE_SIZE]


def disappearance(
    session: Session, binding_id: int, removed: frozenset[str], now: datetime
) -> Disappearance:
    """How many live events of syncd's the calendar should hold, and which of them `removed`
    names (live: wanted present, written, no write on its way, the booking not over)."""
    query = (
        select(Mirror.remote_id, Booking.uid)
        .join(Booking, Booking.id == Mirror.booking_id)
        .where(Mirror.binding_id == binding_id, Mirror.remote_id.is_not(None))
        .where(Mirror.desired == Presence.PRESENT, Mirror.pending.is_(False))
        .where(Booking.end > now)
    )
    rows = session.execute(query).all()
    return Disappearance(len(rows), sorted(uid for remote_id, uid in rows if remote_id in removed))


async def check_disappearance(
    db: DatabaseThreads, calendar: Calendar, binding_id: int, answer: ChangeSet, share: float
) -> bool:
    """Whether the answer has a mass disappearance that direct reads confirm; raises
    `ListingNotBelievedError` when a read finds an event the answer says is gone."""
    if not answer.exact_removals or not answer.removed:
        return False  # removals that are not exact are each looked up anyway
    found = await db.read(disappearance, binding_id, answer.removed, utcnow())
    if not found.is_mass(share):
        return False
    for uid in found.sample():  # one at a time: the first found settles it
        if await calendar.find_by_booking(uid) is not None:
            raise ListingNotBelievedError(
            f"the listing reports {len(found.missing)} of {found.live} events gone, "
                "but a direct read still finds one"
            )
    return True

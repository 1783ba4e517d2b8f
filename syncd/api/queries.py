"""The reads behind the API's answers, each one query, joined to the keys it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session, aliased

from syncd.api.serialize import BindingCounts, BookingView, MirrorView
from syncd.errors import NotFound
from syncd.manage.rating_models import BookingRating
from syncd.store.counts import counts_by_owner
from syncd.store.keyed import with_keys
from syncd.store.models import Booking, CalendarBinding, Merchant, Mirror, Service, Staff

V = TypeVar("V")
MirrorState = Literal["dead", "pending"]
_Source = aliased(Booking)


@dataclass(frozen=True)
class Page(Generic[V]):
    items: list[V]
    next_cursor: int | None


def _page(rows: Sequence[tuple[int, V]], limit: int) -> Page[V]:
    """`rows` holds up to limit + 1 (id, item) pairs; the extra one says there is more."""
    items = [item for _id, item in rows[:limit]]
    more = len(rows) > limit
    return Page(items, rows[limit - 1][0] if more else None)


def _bookings() -> Select[Booking, str, str, str, str | None, BookingRating | None]:
    return (
        select(Booking, Merchant.key, Service.key, Staff.key, _Source.key, BookingRating)
        .join(Merchant, Booking.merchant_id == Merchant.id)
        .join(Service, Booking.service_id == Service.id)
        .join(Staff, Booking.staff_id == Staff.id)
        .outerjoin(_Source, Booking.cloned_from_id == _Source.id)
        .outerjoin(BookingRating, BookingRating.booking_id == Booking.id)
    )


def booking_view(session: Session, booking: Booking) -> BookingView:
    row = session.execute(_bookings().where(Booking.id == booking.id)).one()
    return BookingView(*row)


def booking_page(
    session: Session, filters: list[ColumnElement[bool]], after: int, limit: int
) -> Page[BookingView]:
    query = _bookings().where(Booking.id > after, *filters).order_by(Booking.id).limit(limit + 1)
    rows = session.execute(query).all()
    return _page([(row[0].id, BookingView(*row)) for row in rows], limit)


def _mirrors() -> Select[Mirror, str, str, str, str]:
    return with_keys(Mirror, Mirror.booking_id, Mirror.binding_id)


def booking_mirrors(session: Session, booking: Booking) -> list[MirrorView]:
    query = _mirrors().where(Mirror.booking_id == booking.id).order_by(Mirror.id)
    return [MirrorView(*row) for row in session.execute(query)]


def mirror_view(session: Session, mirror_id: int) -> MirrorView:
    row = session.execute(_mirrors().where(Mirror.id == mirror_id)).one_or_none()
    if row is None:
        raise NotFound(f"mirror {mirror_id}")
    return MirrorView(*row)


def _state_filter(state: MirrorState | None) -> ColumnElement[bool]:
    dead = Mirror.dead.is_(True)
    pending = Mirror.pending.is_(True) & Mirror.dead.is_(False)
    return {"dead": dead, "pending": pending, None: dead | pending}[state]


def mirror_page(
    session: Session, state: MirrorState | None, after: int, limit: int
) -> Page[MirrorView]:
    query = _mirrors().where(Mirror.id > after, _state_filter(state))
    rows = session.execute(query.order_by(Mirror.id).limit(limit + 1)).all()
    return _page([(row[0].id, MirrorView(*row)) for row in rows], limit)


def binding_counts(session: Session, binding_ids: list[int]) -> dict[int, BindingCounts]:
    """Pending (not yet dead) and dead mirrors of each binding."""
    pending = and_(Mirror.pending.is_(True), Mirror.dead.is_(False))
    dead = Mirror.dead.is_(True)
    counts = counts_by_owner(session, Mirror.binding_id, binding_ids, [pending, dead])
    return {binding_id: BindingCounts(*pair) for binding_id, pair in counts.items()}


def staff_bindings(session: Session, staff: Staff) -> list[CalendarBinding]:
    query = select(CalendarBinding).where(CalendarBinding.staff_id == staff.id)
    return list(session.scalars(query.order_by(CalendarBinding.key)))

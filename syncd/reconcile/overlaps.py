"""Double bookings: busy events of others overlapping a live booking, and drift conflicts
whose cause went away. Both are worked out from the store, so a booking moved onto
someone's busy time is found as well as an event moved onto a booking.

A delta pass looks only where something can have changed: at the events it brought,
the bookings changed since the last pass (with a margin for clocks of other hosts),
and the overlaps already open; a complete listing looks everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from connectors.base import RemoteRef
from syncd.domain.bookings import BookingStatus
from syncd.reconcile.conflicts import Finding, close, open_on, record_open
from syncd.reconcile.models import CalendarConflict, ConflictStatus, ObservedBusy, SeenEvent
from syncd.reconcile.recognise import DRIFT_KINDS
from syncd.reconcile.rules import rule_for
from syncd.store.changes import Actor
from syncd.store.models import Booking, CalendarBinding, Merchant, Mirror, Presence
from syncd.timeutil import as_utc, utc_iso
from syncd.webhooks.emit import ConflictKind, Resolution

Overlap = tuple[int, str]  # booking id, the other event's remote id
CLOCK_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Overlapping:
    """Where the other event overlaps the booking."""

    etag: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Scope:
    """Where a delta pass looks for overlaps."""

    events: frozenset[str]  # the other events this pass recorded
    bookings_since: datetime  # the previous pass: bookings changed since


def check_overlaps(
    session: Session, binding: CalendarBinding, now: datetime, scope: Scope | None = None
) -> tuple[int, int]:
    """Open a conflict for each new overlap, close those that ended: (opened, cleared).
    Without a `scope`, every booking and every busy interval is looked at."""
    open_ = {(c.booking_id, c.remote_id or ""): c
             for c in open_on(session, binding.id, [ConflictKind.OVERLAP])}
    current = _current(session, binding, now, scope, open_)
    cleared = 0
    for key, conflict in open_.items():
        if key not in current:
            close(session, conflict, Resolution.CLEARED, actor=Actor.RECONCILIATION,
                  reason="the other event no longer overlaps the booking", now=now)
            cleared += 1
    opened = 0
    for key, found in current.items():
        if key in open_ and _shows(open_[key], found):
            continue  # as it was: nothing to write on every pass
        opened += record_open(session, _finding(session, binding, key, found), now)[1]
    return opened, cleared


def _current(
    session: Session,
    binding: CalendarBinding,
    now: datetime,
    scope: Scope | None,
    open_: dict[Overlap, CalendarConflict],
) -> dict[Overlap, Overlapping]:
    # One query over the staff member's live bookings, narrowed here: cheaper than one
    # query per place to look, as each costs a join of every busy interval with them.
    found = _overlapping(session, binding, now)
    if scope is None:
        return {key: overlap for key, (overlap, _) in found.items()}
    since = as_utc(scope.bookings_since - CLOCK_MARGIN)
    return {
        key: overlap
        for key, (overlap, booking_changed) in found.items()
        if key[1] in scope.events or as_utc(booking_changed) >= since or key in open_
    }


def _shows(conflict: CalendarConflict, found: Overlapping) -> bool:
    side = conflict.calendar_side
    return (side.get("etag"), side.get("start"), side.get("end")) == (
        found.etag, utc_iso(found.start), utc_iso(found.end)
    )


def _finding(
    session: Session, binding: CalendarBinding, key: Overlap, found: Overlapping
) -> Finding:
    booking = session.get_one(Booking, key[0])
    merchant = session.get_one(Merchant, booking.merchant_id)
    rule = rule_for(merchant.reconcile_rule, booking.service.reconcile_rule)
    ref = RemoteRef(key[1], found.etag)
    return Finding(booking, binding, ConflictKind.OVERLAP, rule, ref, found.start, found.end)


def _overlapping(
    session: Session, binding: CalendarBinding, now: datetime
) -> dict[Overlap, tuple[Overlapping, datetime]]:
    """Every overlap of a live booking with another busy event, and when the booking last
    changed."""
    overlaps = and_(
        Booking.staff_id == binding.staff_id,
        Booking.start < ObservedBusy.end,
        Booking.end > ObservedBusy.start,
    )
    query = (
        select(Booking.id, SeenEvent.remote_id, SeenEvent.etag,
               func.min(ObservedBusy.start), func.max(ObservedBusy.end), Booking.updated_at)
        .select_from(SeenEvent)
        .join(ObservedBusy, ObservedBusy.seen_event_id == SeenEvent.id)
        .join(Booking, overlaps)
        .where(SeenEvent.binding_id == binding.id, SeenEvent.busy.is_(True))
        # redundant, but lets the database walk the staff member's busy time by start up
        # to each live booking's end (ix_observed_busy_staff) instead of joining it all
        .where(ObservedBusy.staff_id == binding.staff_id, ObservedBusy.binding_id == binding.id)
        .where(Booking.status != BookingStatus.CANCELLED, Booking.end > now)
        .where(_not_its_own_event())
        .group_by(Booking.id, SeenEvent.remote_id, SeenEvent.etag, Booking.updated_at)
    )
    rows = session.execute(query).all()
    return {(b, r): (Overlapping(etag, start, end), changed)
            for b, r, etag, start, end, changed in rows}


def _not_its_own_event() -> ColumnElement[bool]:
    """The seen event is not the booking's own (a copy of it, or its event before relinking)."""
    return and_(
        or_(SeenEvent.booking_id.is_(None), SeenEvent.booking_id != Booking.id),
        or_(SeenEvent.uid.is_(None), SeenEvent.uid != Booking.uid),
        or_(SeenEvent.tag.is_(None), SeenEvent.tag != Booking.uid),
    )


def sweep_drift(session: Session, binding: CalendarBinding, now: datetime) -> int:
    """Close open drift conflicts that no longer hold; returns how many."""
    query = (
        select(CalendarConflict, Booking.status, Mirror)
        .join(Booking, Booking.id == CalendarConflict.booking_id)
        .outerjoin(Mirror, and_(Mirror.booking_id == Booking.id,
                                Mirror.binding_id == CalendarConflict.binding_id))
        .where(CalendarConflict.binding_id == binding.id,
               CalendarConflict.status == ConflictStatus.OPEN,
               CalendarConflict.kind.in_([str(k) for k in DRIFT_KINDS]))
    )
    cleared = 0
    for conflict, status, mirror in session.execute(query).all():
        reason = _gone_because(conflict, status, mirror)
        if reason is not None:
            close(session, conflict, Resolution.CLEARED, actor=Actor.RECONCILIATION,
                  reason=reason, now=now)
            cleared += 1
    return cleared


def _gone_because(conflict: CalendarConflict, status: str, mirror: Mirror | None) -> str | None:
    if status == BookingStatus.CANCELLED:
        return "the booking was cancelled"
    if mirror is None or mirror.desired == Presence.ABSENT:
        return "the booking is no longer on this calendar"
    written = mirror.actual_version or 0
    if not mirror.pending and written > int(conflict.booking_side.get("version", 0)):
        return "the booking changed and its event was written again"
    return None

"""The worker's side of the store: leasing calendars, claiming due mirrors, recording results.

The unit of leasing is a calendar binding: whoever holds a binding's lease is
the only one writing to that calendar, so a booking's writes are never
reordered and a calendar's concurrency limit holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from connectors.base import EventSpec, RemoteRef
from syncd.domain.bookings import event_spec
from syncd.store.mirrors import is_converged
from syncd.store.models import Booking, CalendarBinding, Mirror, Presence
from syncd.timeutil import utcnow
from syncd.webhooks.emit import mirror_dead_lettered


@dataclass(frozen=True)
class MirrorTask:
    """Everything needed to converge one mirror, detached from the session."""

    mirror_id: int
    booking_id: int
    booking_key: str  # the event's UID / tag
    desired: Presence
    desired_version: int
    ref: RemoteRef | None
    remote_may_exist: bool
    attempts: int
    event: EventSpec | None  # None when the event should be absent


@dataclass(frozen=True)
class Outcome:
    """What the calendar holds after a successful converge."""

    actual: Presence
    version: int | None
    ref: RemoteRef | None


@dataclass(frozen=True)
class BindingTarget:
    binding_id: int
    connector: str
    calendar_id: str


def _due_mirrors(now: datetime) -> list[ColumnElement[bool]]:
    return [Mirror.pending.is_(True), Mirror.dead.is_(False), Mirror.next_attempt_at <= now]


def _lease_free(owner: str, now: datetime) -> ColumnElement[bool]:
    return or_(
        CalendarBinding.lease_owner.is_(None),
        CalendarBinding.lease_owner == owner,
        CalendarBinding.lease_expires_at < now,
    )


def due_bindings(session: Session, owner: str, now: datetime, limit: int) -> list[BindingTarget]:
    """Calendars with work due now that nobody else holds."""
    due = select(Mirror.binding_id).where(*_due_mirrors(now)).distinct().scalar_subquery()
    query = (
        select(CalendarBinding.id, CalendarBinding.connector, CalendarBinding.calendar_id)
        .where(CalendarBinding.id.in_(due), _lease_free(owner, now))
        .where(or_(CalendarBinding.paused_until.is_(None), CalendarBinding.paused_until <= now))
        .order_by(CalendarBinding.id)
        .limit(limit)
    )
    return [BindingTarget(*row) for row in session.execute(query)]


def next_due_time(session: Session) -> datetime | None:
    """When the earliest waiting mirror or paused calendar becomes due."""
    mirror_due = select(func.min(Mirror.next_attempt_at)).where(
        Mirror.pending.is_(True), Mirror.dead.is_(False)
    )
    paused = select(func.min(CalendarBinding.paused_until)).where(
        CalendarBinding.paused_until.is_not(None)
    )
    times = [session.scalar(mirror_due), session.scalar(paused)]
    present = [t for t in times if t is not None]
    return min(present) if present else None


def acquire_lease(
    session: Session, binding_id: int, owner: str, now: datetime, seconds: float
) -> bool:
    """Take or extend the lease; False if another live worker holds it."""
    result = session.execute(
        update(CalendarBinding)
        .where(CalendarBinding.id == binding_id, _lease_free(owner, now))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(session: Session, binding_id: int, owner: str) -> None:
    session.execute(
        update(CalendarBinding)
        .where(CalendarBinding.id == binding_id, CalendarBinding.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def release_all_leases(session: Session, owner: str | None = None) -> None:
    """Drop leases held by `owner`, or every lease (a single-process start)."""
    query = update(CalendarBinding).values(lease_owner=None, lease_expires_at=None)
    if owner is not None:
        query = query.where(CalendarBinding.lease_owner == owner)
    session.execute(query)


def claim_due(
    session: Session, binding_id: int, now: datetime, limit: int, busy: set[int] | None = None
) -> list[MirrorTask]:
    """The binding's due mirrors not in `busy`, marked as possibly written before any request."""
    query = (
        select(Mirror)
        .where(Mirror.binding_id == binding_id, *_due_mirrors(now))
        .where(Mirror.id.not_in(busy or ()))
        .options(joinedload(Mirror.booking).joinedload(Booking.service))
        .options(joinedload(Mirror.booking).joinedload(Booking.staff))
        .order_by(Mirror.next_attempt_at, Mirror.id)
        .limit(limit)
    )
    mirrors = list(session.scalars(query))
    _mark_may_exist(session, [m.id for m in mirrors if _will_write(m)])
    return [_task(m) for m in mirrors]


def _will_write(mirror: Mirror) -> bool:
    return mirror.desired == Presence.PRESENT and not mirror.remote_may_exist


def _mark_may_exist(session: Session, mirror_ids: list[int]) -> None:
    if mirror_ids:
        session.execute(
            update(Mirror).where(Mirror.id.in_(mirror_ids)).values(remote_may_exist=True)
        )


def _task(mirror: Mirror) -> MirrorTask:
    present = mirror.desired == Presence.PRESENT
    ref = RemoteRef(mirror.remote_id, mirror.etag) if mirror.remote_id else None
    return MirrorTask(
        mirror_id=mirror.id,
        booking_id=mirror.booking_id,
        booking_key=mirror.booking.uid,
        desired=Presence(mirror.desired),
        desired_version=mirror.desired_version,
        ref=ref,
        remote_may_exist=mirror.remote_may_exist or present,
        attempts=mirror.attempts,
        event=event_spec(mirror.booking) if present else None,
    )


def record_success(session: Session, mirror_id: int, outcome: Outcome, now: datetime) -> bool:
    """Store what the calendar now holds; True if the mirror is converged."""
    mirror = session.get(Mirror, mirror_id, with_for_update=True)
    if mirror is None:
        return True
    mirror.actual, mirror.actual_version = outcome.actual, outcome.version
    mirror.remote_id = outcome.ref.remote_id if outcome.ref else None
    mirror.etag = outcome.ref.etag if outcome.ref else None
    mirror.remote_may_exist = outcome.actual == Presence.PRESENT
    mirror.attempts, mirror.last_error = 0, None
    mirror.pending = not is_converged(mirror)
    mirror.next_attempt_at = now
    return not mirror.pending


def record_failure(
    session: Session, task: MirrorTask, error: str, retry_at: datetime, *, dead: bool
) -> None:
    """Count a failed attempt; a booking changed meanwhile gets fresh attempts instead."""
    mirror = session.get(Mirror, task.mirror_id, with_for_update=True)
    if mirror is None:
        return
    if (mirror.desired, mirror.desired_version) != (task.desired, task.desired_version):
        mirror.attempts, mirror.last_error, mirror.next_attempt_at = 0, error, utcnow()
        return
    mirror.attempts += 1
    mirror.last_error, mirror.next_attempt_at, mirror.dead = error, retry_at, dead
    if dead:  # the platform hears of it in the same transaction (a webhook event)
        mirror_dead_lettered(session, mirror.id, error)


def pause_binding(session: Session, binding_id: int, until: datetime, error: str) -> int:
    """Hold back a whole calendar after an outage; returns its failure streak."""
    binding = session.get(CalendarBinding, binding_id, with_for_update=True)
    if binding is None:
        return 0
    binding.consecutive_failures += 1
    binding.paused_until, binding.last_error = until, error
    return binding.consecutive_failures


def failure_streak(session: Session, binding_id: int) -> int:
    binding = session.get(CalendarBinding, binding_id)
    return binding.consecutive_failures if binding else 0


def mark_binding_healthy(session: Session, binding_id: int) -> None:
    session.execute(
        update(CalendarBinding)
        .where(
            CalendarBinding.id == binding_id,
            or_(
                CalendarBinding.consecutive_failures > 0, CalendarBinding.paused_until.is_not(None)
            ),
        )
        .values(consecutive_failures=0, paused_until=None, last_error=None)
    )


def count_pending(session: Session) -> int:
    query = (
        select(func.count())
        .select_from(Mirror)
        .where(and_(Mirror.pending.is_(True), Mirror.dead.is_(False)))
    )
    return session.scalar(query) or 0

"""Desired state of each booking's events, kept in step with the bookings.

Called inside the transaction that changes a booking or a binding, so the
change and the work it causes commit together. The bindings whose mirrors
became pending are collected in `session.info` and announced after commit
(see syncd/wakeup.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.domain.bookings import is_live
from syncd.store.models import Booking, CalendarBinding, Mirror, Presence
from syncd.timeutil import utcnow

DIRTY_BINDINGS = "syncd.dirty_bindings"


def is_converged(mirror: Mirror) -> bool:
    if mirror.desired == Presence.PRESENT:
        return mirror.actual == Presence.PRESENT and mirror.actual_version == mirror.desired_version
    return mirror.actual == Presence.ABSENT and not mirror.remote_may_exist


def _announce(session: Session, binding_id: int) -> None:
    session.info.setdefault(DIRTY_BINDINGS, set()).add(binding_id)


def _set_desired(session: Session, mirror: Mirror, desired: Presence, version: int) -> None:
    if (mirror.desired, mirror.desired_version) == (desired, version) and not mirror.dead:
        return
    mirror.desired, mirror.desired_version = desired, version
    mirror.pending = not is_converged(mirror)
    if mirror.pending:
        mirror.dead, mirror.attempts, mirror.next_attempt_at = False, 0, utcnow()
        _announce(session, mirror.binding_id)


def _new_mirror(session: Session, booking: Booking, binding_id: int, *, unsure: bool) -> Mirror:
    mirror = Mirror(
        booking_id=booking.id,
        binding_id=binding_id,
        desired=Presence.ABSENT,
        desired_version=0,
        actual=Presence.ABSENT,
        remote_may_exist=unsure,
        pending=False,
        dead=False,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(mirror)
    return mirror


def _active_binding_ids(session: Session, staff_id: int) -> set[int]:
    query = select(CalendarBinding.id).where(
        CalendarBinding.staff_id == staff_id, CalendarBinding.active.is_(True)
    )
    return set(session.scalars(query))


def sync_booking_mirrors(
    session: Session, booking: Booking, *, new: bool = False, imported: bool = False
) -> None:
    """Make the booking's mirrors want its current state: present where bound, else absent.

    A mirror made for a booking syncd did not just create, or one imported, may
    find its event on the calendar already (a new binding, a rebuilt store): the
    worker then looks it up before writing.
    """
    session.flush()
    # Locked: whether a mirror is converged depends on `remote_may_exist`, which a
    # worker's claim sets at the same moment; judged on a stale read, a cancellation
    # would call converged an event the claim is about to write.
    mine = select(Mirror).where(Mirror.booking_id == booking.id).with_for_update()
    existing = {} if new else {m.binding_id: m for m in session.scalars(mine)}
    wanted = _active_binding_ids(session, booking.staff_id) if is_live(booking) else set()
    for binding_id in wanted - existing.keys():
        existing[binding_id] = _new_mirror(
            session, booking, binding_id, unsure=imported or not new
        )
    for binding_id, mirror in existing.items():
        desired = Presence.PRESENT if binding_id in wanted else Presence.ABSENT
        _set_desired(session, mirror, desired, booking.version)


def bind_calendar_to_bookings(session: Session, binding: CalendarBinding) -> None:
    """After a binding is added, re-activated or deactivated, its events follow."""
    if binding.active:
        bookings = session.scalars(select(Booking).where(Booking.staff_id == binding.staff_id))
        for booking in bookings:
            sync_booking_mirrors(session, booking)
        return
    bound = select(Mirror).where(Mirror.binding_id == binding.id).with_for_update()
    for mirror in session.scalars(bound):
        _set_desired(session, mirror, Presence.ABSENT, mirror.desired_version)


def retry_mirror(session: Session, mirror: Mirror) -> None:
    """Give a dead-lettered (or waiting) mirror a fresh set of attempts, now."""
    mirror.dead, mirror.attempts, mirror.next_attempt_at = False, 0, utcnow()
    mirror.pending = not is_converged(mirror)
    if mirror.pending:
        _announce(session, mirror.binding_id)

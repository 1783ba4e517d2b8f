"""Each bound calendar's watch state: when its next pass is due, and what a pass starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from connectors.base import ChangeWindow
from syncd.config.reconcile import ReconcileSettings
from syncd.reconcile.models import ReconcileState, SeenEvent
from syncd.reconcile.window import window_for
from syncd.store.mirrors import DIRTY_BINDINGS
from syncd.store.models import Booking, CalendarBinding, Mirror
from syncd.store.schedule import PassSchedule
from syncd.timeutil import utcnow

# a calendar whose connector has no change feed is asked again this rarely
UNWATCHABLE_RETRY = timedelta(days=1)


class LeaseLost(Exception):  # noqa: N818 - says what happened, as the worker logs it
    """Another worker holds the calendar now: this pass stores nothing."""


def check_lease(session: Session, binding_id: int, owner: str | None) -> None:
    """Raise `LeaseLost` unless `owner` (when given) still holds the calendar's lease."""
    if owner is None:
        return
    holder = session.scalar(
        select(CalendarBinding.lease_owner).where(CalendarBinding.id == binding_id)
        .with_for_update()
    )
    if holder != owner:
        raise LeaseLost(f"calendar {binding_id} is leased by another worker now")


@dataclass(frozen=True)
class PassPlan:
    """What one pass asks the calendar for, read before any request is made."""

    binding_id: int
    staff_id: int
    cursor: str | None
    window: ChangeWindow
    known: dict[str, str | None]  # remote id → etag of what syncd holds for this calendar
    listing_reason: str | None = None  # why a stored cursor is not used this time


def pass_due(now: datetime) -> ColumnElement[bool]:
    """Bindings whose reconcile pass is due (never made counts as due)."""
    due = select(ReconcileState.binding_id).where(ReconcileState.next_pass_at <= now)
    watched = select(ReconcileState.binding_id)
    return and_(
        CalendarBinding.active.is_(True),
        or_(CalendarBinding.id.in_(due), CalendarBinding.id.not_in(watched)),
    )


def next_pass_time(
    session: Session, now: datetime, held: ColumnElement[bool] | None = None
) -> datetime | None:
    """When the next pass of an active, unpaused calendar falls due (now for a new one);
    calendars matching `held` (leased by a worker, which makes their passes) left out."""
    usable = and_(
        CalendarBinding.active.is_(True),
        or_(CalendarBinding.paused_until.is_(None), CalendarBinding.paused_until <= now),
        true() if held is None else ~held,
    )
    unwatched = select(CalendarBinding.id).where(
        usable, CalendarBinding.id.not_in(select(ReconcileState.binding_id))
    )
    if session.scalar(unwatched.limit(1)) is not None:
        return now
    query = (
        select(func.min(ReconcileState.next_pass_at))
        .join(CalendarBinding, CalendarBinding.id == ReconcileState.binding_id)
        .where(usable)
    )
    return session.scalar(query)


# what a watching worker's claims ask (syncd.store.work.due_bindings, next_due_time)
PASSES = PassSchedule(due=pass_due, next_time=next_pass_time)


def state_of(session: Session, binding_id: int, now: datetime) -> ReconcileState:
    state = session.get(ReconcileState, binding_id, with_for_update=True)
    if state is None:
        state = ReconcileState(binding_id=binding_id, next_pass_at=now, failures=0, passes=0)
        session.add(state)
        session.flush()
    return state


def request_pass(session: Session, binding_id: int) -> None:
    """Make the calendar's next pass due now and wake the worker after the commit."""
    now = utcnow()
    state_of(session, binding_id, now).next_pass_at = now
    session.info.setdefault(DIRTY_BINDINGS, set()).add(binding_id)


def plan_pass(
    session: Session, binding_id: int, now: datetime, settings: ReconcileSettings
) -> PassPlan | None:
    """The pass to make now, or None when none is due (or the calendar is not watched)."""
    binding = session.get(CalendarBinding, binding_id)
    state = state_of(session, binding_id, now)
    if binding is None or not binding.active or state.next_pass_at > now:
        return None
    stored = _stored_window(state)
    window = window_for(now, settings, stored)
    same_window = window == stored
    known = _mirror_etags(session, binding_id, window)
    if same_window:  # a new window lists every foreign event in it again
        known |= _seen_etags(session, binding_id)
    distrust = cursor_distrust(state, now, settings) if same_window else None
    cursor = state.cursor if same_window and distrust is None else None
    return PassPlan(binding_id, binding.staff_id, cursor, window, known, distrust)


def cursor_distrust(
    state: ReconcileState, now: datetime, settings: ReconcileSettings
) -> str | None:
    """Why the stored cursor cannot be vouched for (None: it can, or there is none).

    A server may answer a stale, lost or foreign sync-token as if it were current and
    leave out what was deleted meanwhile (DAViCal does), so a cursor is used only while
    the last complete listing is younger than `full_listing_interval`.
    """
    if state.cursor is None:
        return None
    listed = state.last_complete_at
    if listed is None:
        return "no complete listing on record"
    if listed > now or (state.last_pass_at is not None and state.last_pass_at > now):
        return "the sync state is dated after now (a clock moved back, or a restored store)"
    if now - listed >= timedelta(seconds=settings.full_listing_interval):
        return "the last complete listing is older than reconcile.full_listing_interval"
    return None


def _stored_window(state: ReconcileState) -> ChangeWindow | None:
    if state.window_start is None or state.window_end is None:
        return None
    return ChangeWindow(state.window_start, state.window_end)


def _mirror_etags(session: Session, binding_id: int, window: ChangeWindow) -> dict[str, str | None]:
    """syncd's own events on the calendar, except those of bookings over before the window."""
    query = (
        select(Mirror.remote_id, Mirror.etag)
        .join(Booking, Booking.id == Mirror.booking_id)
        .where(Mirror.binding_id == binding_id, Mirror.remote_id.is_not(None))
        .where(Booking.end >= window.start)
    )
    return {str(remote_id): etag for remote_id, etag in session.execute(query)}


def _seen_etags(session: Session, binding_id: int) -> dict[str, str | None]:
    query = select(SeenEvent.remote_id, SeenEvent.etag).where(SeenEvent.binding_id == binding_id)
    return {str(remote_id): etag for remote_id, etag in session.execute(query)}


def record_pass(
    state: ReconcileState,
    plan: PassPlan,
    cursor: str | None,
    now: datetime,
    settings: ReconcileSettings,
    *,
    complete: bool,
    reset_reason: str | None,
    poll_within: float | None = None,
) -> None:
    state.cursor = cursor
    state.window_start, state.window_end = plan.window.start, plan.window.end
    state.last_pass_at = now
    interval = min(settings.interval_seconds, poll_within or settings.interval_seconds)
    state.next_pass_at = now + timedelta(seconds=interval)
    state.passes += 1
    state.failures, state.last_error = 0, None
    if complete:
        state.last_complete_at = now
    if reset_reason is not None:
        state.last_reset_reason = reset_reason


def failure_count(session: Session, binding_id: int) -> int:
    found = session.get(ReconcileState, binding_id)
    return found.failures if found else 0


def record_failure(
    session: Session, binding_id: int, error: str, retry_at: datetime
) -> int:
    """Count a failed pass; the cursor is kept, so the next pass starts where this one did."""
    state = state_of(session, binding_id, utcnow())
    state.failures += 1
    state.last_error, state.next_pass_at = error, retry_at
    return state.failures


def record_unwatchable(session: Session, binding_id: int, why: str) -> None:
    state = state_of(session, binding_id, utcnow())
    state.last_error = why
    state.next_pass_at = utcnow() + UNWATCHABLE_RETRY

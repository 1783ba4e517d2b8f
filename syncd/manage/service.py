"""What the manage pages call. Each takes the caller's transaction (the pages run them
with syncd.store.db.in_transaction); `slot_list` runs its own, around the calendar
reads.

Every rule, the cutoff and the slot itself are checked again on every call, not
only when a page was shown: the moment of the call is the one that counts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus
from syncd.domain.manage_rules import Action, status_after_reschedule
from syncd.errors import NotFound
from syncd.manage import availability as av
from syncd.manage.busy import (
    Stretch,
    active_bindings,
    cached_busy,
    fetch_busy,
    forget_stretches,
    store_busy,
    stored_stretches,
)
from syncd.manage.days import days_with_starts, starts_on
from syncd.manage.details import DETAILS_ROW, details_page
from syncd.manage.errors import NothingToChange, SlotTaken
from syncd.manage.fresh_busy import BusyUnreadable, FreshBusy, SlotCheck
from syncd.manage.single_flight import SingleFlight
from syncd.manage.slot_plan import UNKNOWN_LINK, SlotPlan, read_plan
from syncd.manage.slots import Interval, StaffTime, find_slots, free_runs
from syncd.manage.tokens import find_booking, token_digest
from syncd.manage.views import BookingPage, SlotList
from syncd.runtime import Runtime
from syncd.store.bookings import change_booking
from syncd.store.changes import Actor
from syncd.store.models import Booking, Staff
from syncd.store.session import SyncdSession
from syncd.store.snapshots import PooledReads, SnapshotReads
from syncd.timeutil import as_utc

T = TypeVar("T")


def _booking(session: Session, token: str, now: datetime, *, lock: bool = False) -> Booking:
    booking = find_booking(session, token, now, lock=lock)
    if booking is None:
        raise NotFound(UNKNOWN_LINK)
    return booking


def booking_page(session: Session, token: str, now: datetime) -> BookingPage:
    digest = token_digest(token)
    row = None if digest is None else session.execute(DETAILS_ROW, {"digest": digest}).first()
    page = details_page(None if row is None else tuple(row), digest or "", now)
    if page is None:
        raise NotFound(UNKNOWN_LINK)
    return page


def cancel(session: SyncdSession, token: str, now: datetime) -> Booking:
    booking = _booking(session, token, now, lock=True)
    av.context_of(booking, now).require(Action.CANCEL)
    change_booking(session, booking, {"status": BookingStatus.CANCELLED}, Actor.CUSTOMER)
    return booking


def slot_check(
    session: Session, token: str, start: datetime, staff_key: str | None, now: datetime
) -> SlotCheck:
    """The calendars and the interval a confirmation of `start` must read afresh."""
    booking = _booking(session, token, now)
    context = av.context_of(booking, now)
    target = _target(session, context, staff_key)
    bindings = tuple(active_bindings(session, target.id))
    return SlotCheck(target.id, bindings, _needed(context, as_utc(start), now))


def reschedule(
    session: SyncdSession, token: str, start: datetime, staff_key: str | None, now: datetime,
    *, fresh: FreshBusy | None = None,
) -> Booking:
    """Move the booking to `start` (and `staff_key`); SlotTaken unless that slot is free now,
    NothingToChange if it is the booking's own.

    `fresh` is what the calendars showed at confirm time (syncd.manage.fresh_busy);
    without it the stored busy time is trusted while `manage.busy_confirm_seconds` young.
    """
    booking = _booking(session, token, now, lock=True)
    context = av.context_of(booking, now)
    target = _target(session, context, staff_key)
    start = as_utc(start)
    moved, other_staff = start != booking.start, target.id != booking.staff_id
    if not (moved or other_staff):
        context.require(Action.RESCHEDULE)
        raise NothingToChange
    if moved:
        context.require(Action.RESCHEDULE)
    if other_staff:
        context.require(Action.CHANGE_STAFF)
    _lock_staff(session, target)
    _require_free(session, context, target, start, now, fresh=fresh)
    _move(session, context, target, start)
    return booking


def forget_busy(session: Session, check: SlotCheck) -> None:
    """The stored busy time over the checked slot is out of date: the next listing reads it."""
    forget_stretches(session, [b.id for b in check.bindings], [check.needed])


def _target(session: Session, context: av.BookingContext, staff_key: str | None) -> Staff:
    return av.pick_staff(session, context, av.staff_choices(session, context, staff_key),
                         staff_key)


def _lock_staff(session: Session, staff: Staff) -> None:
    """Serialise confirmations for one staff member (PostgreSQL; SQLite's writers already are)."""
    session.execute(select(Staff.id).where(Staff.id == staff.id).with_for_update())


def _asked(context: av.BookingContext, start: datetime, now: datetime) -> Interval:
    """`start` as a moment within the bookable window (empty when outside it)."""
    window = av.slot_window(context, now)
    return Interval(max(start, window.start), min(start + timedelta(microseconds=1), window.end))


def _needed(context: av.BookingContext, start: datetime, now: datetime) -> Interval:
    """Everything a slot at `start` touches, buffers included."""
    shape = av.slot_shape(context.service, context.booking)
    return av.reach(shape, _asked(context, start, now))


def _require_free(
    session: SyncdSession, context: av.BookingContext, staff: Staff, start: datetime, now: datetime,
    *, fresh: FreshBusy | None,
) -> None:
    booking = context.booking
    shape = av.slot_shape(context.service, booking)
    asked, needed = _asked(context, start, now), _needed(context, start, now)
    calendar_busy = _calendar_busy(session, staff, needed, now, fresh)
    blocked = av.booking_blocks(session, staff.id, needed, booking.id)
    blocked += av.without_own_event(calendar_busy, av.own_event(booking, staff.id))
    staff_time = StaffTime(staff.timezone, staff.working_hours, blocked)
    if start not in find_slots(shape, staff_time, asked):
        raise SlotTaken()


def _calendar_busy(
    session: SyncdSession, staff: Staff, needed: Interval, now: datetime, fresh: FreshBusy | None
) -> list[Interval]:
    bindings = active_bindings(session, staff.id)
    if fresh is not None:
        if not fresh.answers(staff.id, bindings, needed):
            raise BusyUnreadable  # calendars rebound since the read: read again
        return fresh.intervals
    fresh_after = now - timedelta(seconds=session.manage.busy_confirm_seconds)
    busy = cached_busy(session, bindings, needed, fresh_after)
    if busy.missing:
        raise SlotTaken("This time could not be checked again. Please choose a time again.")
    return busy.intervals


def _move(session: SyncdSession, context: av.BookingContext, staff: Staff, start: datetime) -> None:
    booking = context.booking
    values: dict[str, object] = {
        "start": start,
        "end": start + (booking.end - booking.start),
        "staff_id": staff.id,
        "status": status_after_reschedule(booking.status, context.service.requires_approval),
    }
    change_booking(session, booking, values, Actor.CUSTOMER)
    booking.staff = staff  # the relationship follows staff_id for whoever reads it next


def _run(runtime: Runtime, work: Callable[[SyncdSession], T]) -> T:
    with runtime.sessions.begin() as session:
        return work(session)


async def _in_transaction(runtime: Runtime, work: Callable[[SyncdSession], T]) -> T:
    return await anyio.to_thread.run_sync(_run, runtime, work)


# (runtime, the stretches missing) → their busy time read and stored, or None if unreadable
_BUSY_READS: SingleFlight[
    tuple[int, frozenset[tuple[int, datetime]]], dict[Stretch, list[Interval]] | None
] = SingleFlight()


async def _known_busy(runtime: Runtime, plan: SlotPlan, now: datetime) -> list[Interval] | None:
    """The plan's busy time with what was missing read from the calendars; None if unreadable.

    Listings missing the same stretches at the same time share one read of them."""
    missing = plan.busy.missing
    if not missing:
        return plan.busy.intervals
    key = (id(runtime), frozenset((stretch.binding.id, stretch.start) for stretch in missing))
    fetched = await _BUSY_READS.run(key, lambda: _read_and_store(runtime, missing, now))
    if fetched is None:
        return None
    return plan.busy.intervals + [i for found in fetched.values() for i in found]


async def _read_and_store(
    runtime: Runtime, missing: list[Stretch], now: datetime
) -> dict[Stretch, list[Interval]] | None:
    settings = runtime.settings.manage
    # A listing whose plan was read just before an earlier flight stored these stretches
    # reaches here after that flight has landed: what it stored is fresh, not missing.
    fresh_after = now - timedelta(seconds=settings.busy_cache_seconds)
    stored = await _in_transaction(
        runtime, lambda session: stored_stretches(session, missing, fresh_after)
    )
    unread = [stretch for stretch in missing if stretch not in stored]
    if not unread:
        return stored
    fetched = await fetch_busy(runtime.connectors, unread, settings.busy_timeout_seconds)
    if fetched is None:
        return None
    # another process storing the same stretch at the same moment fails: theirs will do
    with contextlib.suppress(IntegrityError):
        await _in_transaction(runtime, lambda session: store_busy(session, fetched, now))
    return stored | fetched


async def slot_list(
    runtime: Runtime, token: str, day: date | None, staff_key: str | None, now: datetime,
    *, from_day: date | None = None, reads: SnapshotReads | None = None,
    turns: CapacityLimiter | None = None,
) -> SlotList:
    """The free times of `day` (the customer's date) with the chosen staff member, and the
    days with free times on the fortnight's page that holds it (syncd.manage.day_pages).

    Without a day: the first day with free times from `from_day` (else the first bookable
    day) on; pages without one are passed over.

    Each page's plan is read through `reads` (the web's syncd.web.reads.PageReads); without
    it, in a worker thread, `turns` many at once: threads running Python code at the same
    time only take the interpreter from each other (on a loaded SQLite server, one slot
    listing at a time cost 5.4 ms of CPU where any number cost 8.2).
    """
    reads = reads or PooledReads(runtime.engine, turns)
    page_day = day or from_day
    while True:
        plan = await reads.run(partial(
            read_plan, token=token, staff_key=staff_key, page_day=page_day, now=now,
            settings=runtime.settings.manage))
        busy = await _known_busy(runtime, plan, now)
        runs = [] if busy is None else free_runs(plan.shape, plan.staff_time(busy), plan.window)
        days = days_with_starts(runs, plan.customer_zone, plan.window)
        if days or day is not None or busy is None or plan.page.later is None:
            break
        page_day = plan.page.later
    chosen = day or (days[0] if days else plan.booking_day)
    starts = starts_on(runs, plan.customer_zone, chosen)
    current = _current_start(plan, chosen)
    return SlotList(
        day=chosen,
        slots=[start for start in starts if start != current],
        staff=plan.staff,
        staff_options=plan.staff_options,
        busy_unavailable=busy is None,
        days=days,
        earlier=plan.page.earlier,
        later=plan.page.later,
        current=current,
    )


def _current_start(plan: SlotPlan, day: date) -> datetime | None:
    """The booking's own start in the customer's zone, if with this staff member on `day`:
    shown as the current time, never offered as a move."""
    if plan.own is None:
        return None
    start = plan.own.start.astimezone(ZoneInfo(plan.customer_zone))
    return start if start.date() == day else None

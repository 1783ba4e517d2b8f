"""The slot listing's plan read with prepared statements, on SQLite and PostgreSQL: the same
plan, and the same errors, as the ORM read of the actions gives; one snapshot, in the event
loop on SQLite, run again in a worker thread when a read there would wait."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from anyio import CapacityLimiter
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syncd.config.manage import ManageSettings
from syncd.domain.bookings import BookingStatus
from syncd.domain.manage_rules import Action
from syncd.errors import InputError, NotFound
from syncd.manage import availability as av
from syncd.manage import service
from syncd.manage.busy import active_bindings, cached_busy
from syncd.manage.day_pages import day_page
from syncd.manage.errors import ActionClosed
from syncd.manage.slot_plan import SlotPlan, read_plan
from syncd.manage.slots import Interval
from syncd.manage.tokens import find_booking
from syncd.manage.views import StaffOption
from syncd.reconcile.models import ObservedBusy, SeenEvent
from syncd.runtime import Runtime
from syncd.store.models import Booking, CalendarBinding, ManageToken, Staff
from syncd.store.prepared import PreparedRead, Reader
from syncd.store.snapshots import PooledReads
from syncd.web.reads import PageReads
from tests.manage import shop
from tests.manage.shop import NOW, SOON, at, book


def orm_plan(
    session: Session, token: str, *, staff_key: str | None, page_day: date | None,
    now: datetime, settings: ManageSettings,
) -> SlotPlan:
    """The plan as the listing read it through the ORM before (the actions' own functions)."""
    booking = find_booking(session, token, now)
    if booking is None:
        raise NotFound("manage link")
    context = av.context_of(booking, now)
    if not context.states[Action.CHANGE_STAFF].allowed:
        context.require(Action.RESCHEDULE)
    elif not context.states[Action.RESCHEDULE].allowed:
        context.require(Action.CHANGE_STAFF)
    choices = av.staff_choices(session, context, staff_key)
    staff = av.pick_staff(session, context, choices, staff_key)
    shape = av.slot_shape(context.service, booking)
    page = day_page(av.slot_window(context, now), booking.customer_timezone, page_day)
    needed = av.reach(shape, page.span)
    fresh_after = now - timedelta(seconds=settings.busy_cache_seconds)
    return SlotPlan(
        customer_zone=booking.customer_timezone,
        booking_day=booking.start.astimezone(shop.zone(booking.customer_timezone)).date(),
        shape=shape,
        page=page,
        staff=StaffOption(staff.key, staff.name),
        staff_options=av.staff_options(context, choices),
        timezone=staff.timezone,
        working_hours=staff.working_hours,
        blocked=av.booking_blocks(session, staff.id, needed, booking.id),
        own=av.own_event(booking, staff.id),
        busy=cached_busy(session, active_bindings(session, staff.id), needed, fresh_after),
    )


Outcome = tuple[str, Any]  # ("plan", the plan) or (the error's class name, its details)


def outcome(read: Callable[[], SlotPlan]) -> Outcome:
    try:
        return "plan", read()
    except (NotFound, ActionClosed, InputError) as error:
        return type(error).__name__, (error.args, vars(error))


def both_reads(
    runtime: Runtime, token: str, staff_key: str | None = None, page_day: date | None = None,
    now: datetime = NOW,
) -> tuple[Outcome, Outcome]:
    """What the ORM read and what the page's prepared read give, in that order."""
    asked: dict[str, Any] = {"staff_key": staff_key, "page_day": page_day, "now": now,
             "settings": runtime.settings.manage}
    with runtime.sessions.begin() as session:
        before = outcome(lambda: orm_plan(session, token, **asked))
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    work = partial(read_plan, token=token, **asked)
    return before, outcome(lambda: asyncio.run(reads.run(work)))


@pytest.fixture
def token(runtime: Runtime) -> str:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        _, issued = book(session, "b1")
        book(session, "other", start=at(2))  # Alice's
        book(session, "bobs", start=at(6), staff="bob")
    return issued


def list_slots(runtime: Runtime, token: str) -> None:
    """A listing, which reads the missing busy time from the calendars and stores it."""
    asyncio.run(service.slot_list(runtime, token, None, None, NOW))


def observe_busy(runtime: Runtime, staff_key: str, start: datetime, end: datetime) -> None:
    with runtime.sessions.begin() as session:
        binding = session.execute(
            select(CalendarBinding).join(Staff, Staff.id == CalendarBinding.staff_id)
            .where(Staff.key == staff_key)).scalar_one()
        seen = SeenEvent(binding_id=binding.id, remote_id=f"seen-{start.isoformat()}", busy=True)
        session.add(seen)
        session.flush()
        session.add(ObservedBusy(seen_event_id=seen.id, binding_id=binding.id,
                                 staff_id=binding.staff_id, start=start, end=end))


@pytest.mark.parametrize("staff_key", [None, "alice", "bob"])
def test_the_plan_is_the_orm_reads(runtime: Runtime, token: str, staff_key: str | None) -> None:
    before, now = both_reads(runtime, token, staff_key)
    assert before[0] == "plan"
    assert now == before


def test_busy_time_missing_then_stored_then_observed(
    runtime: Runtime, token: str, calendars: Any
) -> None:
    calendars.calendar("alice-work").add_foreign_event("dentist", at(4), at(5), busy=True)
    missing_before, missing_now = both_reads(runtime, token)
    assert missing_now[1].busy.missing
    assert not missing_now[1].busy.intervals
    assert missing_now == missing_before
    list_slots(runtime, token)
    observe_busy(runtime, "alice", at(7), at(8))
    observe_busy(runtime, "bob", at(9), at(10))  # not Alice's
    known_before, known_now = both_reads(runtime, token)
    assert not known_now[1].busy.missing
    assert known_now[1].busy.intervals == [Interval(at(4), at(5)), Interval(at(7), at(8))]
    assert known_now == known_before


def test_the_plan_of_another_page(runtime: Runtime, token: str) -> None:
    before, now = both_reads(runtime, token, "bob", date(2030, 3, 20))
    assert now[1].page.first == date(2030, 3, 18)
    assert now == before


def test_a_staff_change_alone_lists_only_the_current_time(runtime: Runtime, token: str) -> None:
    with runtime.sessions.begin() as session:
        rules = session.scalars(select(Booking.manage_rules).where(Booking.key == "b1")).one()
        session.execute(update(Booking).where(Booking.key == "b1")
                        .values(manage_rules={**(rules or {}), "reschedule": False}))
    before, now = both_reads(runtime, token, "bob")
    assert now[1].window.start == SOON
    assert now == before


@pytest.mark.parametrize("case", ["cutoff", "cancelled", "ended", "revoked", "wrong", "malformed",
                                  "not a deliverer"])
def test_the_errors_are_the_orm_reads(runtime: Runtime, token: str, case: str) -> None:
    now, staff_key, used = NOW, None, token
    if case == "cutoff":
        now = SOON - timedelta(hours=23)
    elif case == "ended":
        now = at(0.5)
    elif case == "wrong":
        used = "A" * 43
    elif case == "malformed":
        used = "not a token"
    elif case == "not a deliverer":
        staff_key = "carol"
    with runtime.sessions.begin() as session:
        if case == "cancelled":
            session.execute(update(Booking).values(status=BookingStatus.CANCELLED))
        elif case == "revoked":
            session.execute(update(ManageToken).values(revoked_at=NOW))
    before, now_read = both_reads(runtime, used, staff_key, now=now)
    expected = {"cutoff": "ActionClosed", "cancelled": "ActionClosed", "not a deliverer":
                "InputError"}.get(case, "NotFound")
    assert before[0] == expected
    assert now_read == before


def test_a_prepared_read_of_all_rows_gives_what_core_gives(runtime: Runtime, token: str) -> None:
    needed = Interval(NOW, NOW + timedelta(days=7))
    with runtime.sessions.begin() as session:
        alice = session.scalars(select(Staff.id).where(Staff.key == "alice")).one()
        parameters = av.blocking_parameters(alice, needed, except_id=-1)
        core = [tuple(row) for row in session.execute(av.BLOCKING, parameters)]
    prepared = PreparedRead(av.BLOCKING, runtime.engine.dialect)
    connection = runtime.engine.raw_connection()
    try:
        rows = prepared.all(connection.dbapi_connection, parameters)
    finally:
        connection.close()
    assert len(rows) == 2  # the cancelled status and both times bound as Core binds them
    assert sorted(rows) == sorted(core)
    assert rows[0][0].utcoffset() == timedelta(0)


def test_a_listing_through_the_page_reads_is_the_one_in_a_thread(
    runtime: Runtime, token: str
) -> None:
    list_slots(runtime, token)
    reads = PageReads(runtime.engine, CapacityLimiter(1))

    async def both() -> list[Any]:
        return [await service.slot_list(runtime, token, day, None, NOW, reads=page_reads)
                for page_reads in (reads, PooledReads(runtime.engine))
                for day in (None, date(2030, 3, 6))]

    in_loop, _, in_thread, _ = listings = asyncio.run(both())
    assert in_loop == in_thread
    assert [s.astimezone(shop.zone("Europe/Berlin")).strftime("%H:%M")
            for s in listings[1].slots][:6] == ["09:00", "09:30", "10:30", "11:00", "13:00",
                                                "13:30"]
    assert listings[1].current is not None, "10:00 is the booking's own, not a move"


class WaitingCursor:
    """A cursor of the loop's connection as SQLite leaves it when a read would have to wait."""

    def execute(self, *_: object) -> None:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY  # type: ignore[attr-defined]
        raise error

    def close(self) -> None:
        pass


class BusyLater:
    """The loop's connection, where the statements after the first `good` would have to wait."""

    def __init__(self, connection: sqlite3.Connection, good: int) -> None:
        self.connection, self.good = connection, good

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    def execute(self, sql: str) -> sqlite3.Cursor:  # BEGIN and ROLLBACK
        return self.connection.execute(sql)

    def cursor(self) -> sqlite3.Cursor | WaitingCursor:
        self.good -= 1
        return self.connection.cursor() if self.good >= 0 else WaitingCursor()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # only SQLite reads in the loop
def test_work_whose_read_would_wait_runs_again_whole_in_a_thread(
    runtime: Runtime, token: str
) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    plan = partial(read_plan, token=token, staff_key="bob", page_day=None, now=NOW,
                   settings=runtime.settings.manage)
    expected = asyncio.run(reads.run(plan))  # opens the loop's connection
    loop_connection, loop_thread = reads._loop_connection, threading.get_ident()
    ran_in: list[bool] = []  # per run of the work: in a thread other than the loop's

    def work(reader: Reader) -> SlotPlan:
        ran_in.append(threading.get_ident() != loop_thread)
        return plan(reader)

    # the booking's row and the staff who deliver its service are read; Bob's hours wait
    reads._loop_connection = BusyLater(loop_connection, good=2)
    assert asyncio.run(reads.run(work)) == expected
    assert ran_in == [False, True]
    assert not loop_connection.in_transaction  # its snapshot was given up


def test_listings_starting_together_keep_at_most_one_pooled_connection(
    runtime: Runtime, token: str
) -> None:
    list_slots(runtime, token)
    reads = PageReads(runtime.engine, CapacityLimiter(2))

    async def many_first_listings() -> list[Any]:
        return await asyncio.gather(*(
            service.slot_list(runtime, token, date(2030, 3, 6), None, NOW, reads=reads)
            for _ in range(12)))

    listings = asyncio.run(many_first_listings())
    assert all(listing == listings[0] for listing in listings)
    held = 1 if runtime.engine.dialect.name == "sqlite" else 0  # the loop's own connection
    assert runtime.engine.pool.checkedout() == held  # type: ignore[attr-defined]

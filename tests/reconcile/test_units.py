"""The pure parts: rules, drift, the window, merging busy time; and a feed that repeats itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import BusyInterval, ChangeSet, ChangeWindow, ObservedEvent, RemoteRef
from connectors.memory import MemoryCalendar
from syncd.config.reconcile import ReconcileSettings
from syncd.reconcile.busy import merged
from syncd.reconcile.models import ReconcileState, Rule
from syncd.reconcile.passes import Watcher, reconcile_pass
from syncd.reconcile.recognise import CalendarSide, drift
from syncd.reconcile.rules import ConflictAction, can_take_time, decide, rule_for
from syncd.reconcile.state import LeaseLost, cursor_distrust, request_pass
from syncd.reconcile.window import window_for
from syncd.retry_policy import RetryPolicy
from syncd.store.dbthread import DatabaseThreads
from syncd.timeutil import utcnow
from syncd.webhooks.emit import ConflictKind as K
from tests.reconcile.hands import MemoryHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REF = RemoteRef("/c/x.ics", '"1"')


@pytest.mark.parametrize(
    ("kind", "rule", "action"),
    [
        (K.MOVED, Rule.BOOKING_WINS, ConflictAction.REWRITE),
        (K.MOVED, Rule.CALENDAR_WINS, ConflictAction.RESCHEDULE),
        (K.MOVED, Rule.FLAG, ConflictAction.FLAG),
        (K.EDITED, Rule.CALENDAR_WINS, ConflictAction.RESCHEDULE),
        (K.DELETED, Rule.BOOKING_WINS, ConflictAction.REWRITE),
        (K.DELETED, Rule.CALENDAR_WINS, ConflictAction.FLAG),
        (K.MISSING, Rule.CALENDAR_WINS, ConflictAction.FLAG),
        (K.MISSING, Rule.FLAG, ConflictAction.FLAG),
        (K.OVERLAP, Rule.BOOKING_WINS, ConflictAction.FLAG),
        (K.OVERLAP, Rule.CALENDAR_WINS, ConflictAction.FLAG),
    ],
)
def test_each_rule_decides_each_kind(kind: K, rule: Rule, action: ConflictAction) -> None:
    assert decide(kind, rule) == action


def test_a_services_rule_wins_over_the_merchants() -> None:
    assert rule_for("booking_wins", None) == Rule.BOOKING_WINS
    assert rule_for("booking_wins", "flag") == Rule.FLAG


@pytest.mark.parametrize(
    ("seen", "reported", "kind"),
    [
        (CalendarSide(REF, T, T + HOUR), False, None),
        (CalendarSide(REF, T + HOUR, T + 2 * HOUR), False, K.MOVED),
        (CalendarSide(REF, T, T + 2 * HOUR), False, K.EDITED),
        (CalendarSide(REF, T, T + HOUR, cancelled=True), False, K.DELETED),
        (None, True, K.DELETED),
        (None, False, K.MISSING),
    ],
)
def test_drift(seen: CalendarSide | None, reported: bool, kind: K | None) -> None:
    assert drift(T, T + HOUR, seen, removal_reported=reported) == kind


def test_a_booking_takes_no_absurd_time() -> None:
    assert can_take_time(T, T + HOUR)
    assert not can_take_time(T, T)
    assert not can_take_time(T, T + timedelta(days=8))


def test_the_window_stays_until_it_must_move() -> None:
    settings = ReconcileSettings(lookback_days=1, horizon_days=10, window_renew_days=7)
    first = window_for(T, settings, None)
    assert (first.start, first.end) == (T - timedelta(days=1), T + timedelta(days=17))
    assert window_for(T + timedelta(days=6), settings, first) == first
    moved = window_for(T + timedelta(days=8), settings, first)
    assert moved.start == T + timedelta(days=7)


def test_busy_time_is_merged() -> None:
    intervals = [BusyInterval(T, T + HOUR), BusyInterval(T + HOUR, T + 2 * HOUR),
                 BusyInterval(T + 3 * HOUR, T + 4 * HOUR)]
    assert merged(intervals) == [BusyInterval(T, T + 2 * HOUR),
                                 BusyInterval(T + 3 * HOUR, T + 4 * HOUR)]


class Repeating(MemoryCalendar):
    """A feed that says everything twice: the same entries, in one answer."""

    async def changes(self, cursor, window, known):  # type: ignore[no-untyped-def]
        answer = await super().changes(cursor, window, known)
        return replace(answer, changed=answer.changed * 2)


@pytest.mark.anyio
async def test_an_entry_given_twice_counts_once(tmp_path: object) -> None:
    hands = MemoryHands()
    hands.connector.calendars["/rep/"] = Repeating("/rep/")
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands))
    try:
        shop = Shop(runtime, hands, "/rep/")
        shop.seed("flag")
        shop.book("b1")
        await shop.settle()
        calendar = hands.connector.calendar("/rep/")
        calendar.edit_event(shop.href("b1"), start=START + HOUR, end=START + 2 * HOUR)
        calendar.add_foreign_event("gym", START, START + HOUR, busy=True)
        await shop.watch_again()
        assert sorted(c.kind for c in shop.open_conflicts()) == ["moved", "overlap"]
        assert len([m for m in shop.messages() if m[0] == "conflict_notice"]) == 4
    finally:
        runtime.close()


@pytest.mark.anyio
async def test_a_pass_without_a_change_feed_is_not_made_again_soon(tmp_path: object) -> None:
    hands = MemoryHands()
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands))
    try:
        shop = Shop(runtime, hands, "/x/")
        shop.seed("flag")

        class Blind(MemoryCalendar):
            async def changes(self, *args: object) -> ChangeSet:  # type: ignore[override]
                raise NotImplementedError("no change feed")

        db = DatabaseThreads(runtime.sessions)
        with pytest.raises(NotImplementedError):
            await reconcile_pass(db, Blind("/x/"), shop.binding_id(), ReconcileSettings())
        db.close()
        hands.connector.calendars["/x/"] = Blind("/x/")
        await shop.settle()  # the worker records it and moves on
        assert shop.state().last_error
        assert shop.state().next_pass_at > utcnow() + timedelta(hours=23)
    finally:
        runtime.close()


def test_observed_events_are_what_the_contract_says() -> None:
    window = ChangeWindow(T, T + timedelta(days=1))
    assert window.clip(BusyInterval(T - HOUR, T + HOUR)) == BusyInterval(T, T + HOUR)
    assert window.clip(BusyInterval(T - 2 * HOUR, T - HOUR)) is None
    event = ObservedEvent(REF, None, "x", T, T + HOUR)
    assert (event.busy, event.cancelled, event.intervals) == (True, False, ())


class Windowed(MemoryCalendar):
    """A feed like Graph's calendarView delta: what leaves the window reads as removed."""

    async def changes(self, cursor, window, known):  # type: ignore[no-untyped-def]
        answer = await super().changes(cursor, window, known)
        inside = tuple(e for e in answer.changed if e.start < window.end and e.end > window.start)
        outside = {e.ref.remote_id for e in answer.changed} - {e.ref.remote_id for e in inside}
        return replace(answer, changed=inside, removed=answer.removed | outside,
                       exact_removals=False)


@pytest.mark.anyio
async def test_a_windowed_feed_has_its_removals_looked_up(tmp_path: object) -> None:
    hands = MemoryHands()
    hands.connector.calendars["/win/"] = Windowed("/win/")
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands))
    try:
        shop = Shop(runtime, hands, "/win/")
        shop.seed("flag")
        shop.book("b1")
        shop.book("b2", START + 2 * HOUR)
        await shop.settle()
        calendar = hands.connector.calendar("/win/")
        far = START + timedelta(days=400)
        calendar.edit_event(shop.href("b1"), start=far, end=far + HOUR)
        calendar.remove_event(shop.href("b2"))
        await shop.watch_again()
        kinds = {c.kind: c for c in shop.open_conflicts()}
        assert set(kinds) == {"moved", "deleted"}
        assert kinds["moved"].calendar_side["start"] == far.isoformat()
    finally:
        runtime.close()


@pytest.mark.anyio
async def test_a_pass_of_a_worker_that_lost_the_lease_stores_nothing(tmp_path: object) -> None:
    hands = MemoryHands()
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands))
    try:
        shop = Shop(runtime, hands, "/lost/")
        shop.seed("flag")
        shop.book("b1")
        await shop.settle()
        calendar = hands.connector.calendar("/lost/")
        calendar.edit_event(shop.href("b1"), start=START + HOUR, end=START + 2 * HOUR)
        with runtime.sessions.begin() as session:
            request_pass(session, shop.binding_id())
        passes = shop.state().passes
        db = DatabaseThreads(runtime.sessions)
        try:
            with pytest.raises(LeaseLost):
                await reconcile_pass(db, calendar, shop.binding_id(), ReconcileSettings(),
                                     owner="another-worker")
        finally:
            db.close()
        assert (shop.state().passes, shop.conflicts()) == (passes, [])
    finally:
        runtime.close()


@pytest.mark.anyio
async def test_a_failing_pass_logs_its_traceback_once(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    hands = MemoryHands()
    runtime = migrated(settings_for(f"sqlite:///{tmp_path}/syncd.db", hands))
    try:
        shop = Shop(runtime, hands, "/x/")
        shop.seed("flag")

        class Broken(MemoryCalendar):
            async def changes(self, *args: object) -> ChangeSet:  # type: ignore[override]
                raise ValueError("an answer nobody can read")

        db = DatabaseThreads(runtime.sessions)
        watcher = Watcher(db, ReconcileSettings(), RetryPolicy(10, 0, 0))
        try:
            for _ in range(3):
                with runtime.sessions.begin() as session:
                    request_pass(session, shop.binding_id())
                await watcher.watch(Broken("/x/"), shop.binding_id(), "memory", 4)
        finally:
            db.close()
        failed = [r for r in caplog.records if r.getMessage().startswith("reconcile pass failed")]
        assert [bool(r.exc_info) for r in failed] == [True, False, False]
        assert "an answer nobody can read" in failed[-1].getMessage()
        assert shop.state().last_error
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("listed", "last_pass", "trusted"),
    [
        (T - timedelta(minutes=59), T - timedelta(minutes=5), True),
        (T - HOUR, T - timedelta(minutes=5), False),  # the last complete listing is too old
        (None, T - timedelta(minutes=5), False),  # none on record
        (T + timedelta(minutes=5), T + timedelta(minutes=5), False),  # dated after now
        (T - timedelta(minutes=5), T + timedelta(minutes=1), False),
    ],
)
def test_a_cursor_is_used_only_while_a_complete_listing_vouches_for_it(
    listed: datetime | None, last_pass: datetime, trusted: bool
) -> None:
    state = ReconcileState(cursor="token", last_complete_at=listed, last_pass_at=last_pass)
    reason = cursor_distrust(state, T, ReconcileSettings(full_listing_interval=3600))
    assert (reason is None) == trusted
    assert cursor_distrust(ReconcileState(cursor=None), T, ReconcileSettings()) is None

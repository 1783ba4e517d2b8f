"""The contract every connector passes (connectors/base.py's docstring, as tests).

A connector's test module subclasses `CalendarContract` and provides a
`harness` fixture giving a fresh, empty calendar; see test_memory.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from connectors.base import (
    BusyInterval,
    ChangeSet,
    ChangeWindow,
    EventSpec,
    EventStatus,
    ObservedEvent,
    RemoteRef,
    same_etag,
)
from syncd.errors import PreconditionFailed, RemoteNotFound
from tests.contract.harness import BERLIN, FeedHarness, ForeignEvent, Harness

MONDAY_10 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)


HAIRCUT = EventSpec(
    booking_key="b-1",
    summary="Haircut with Anna",
    start=MONDAY_10,
    end=MONDAY_10 + HOUR,
    timezone="Europe/Berlin",
    sequence=0,
)


def spec(key: str = "b-1", **changes: Any) -> EventSpec:
    """A booking's event: one hour on MONDAY_10 unless changed."""
    return replace(HAIRCUT, booking_key=key, **changes)


def moved(event: EventSpec, by: timedelta) -> EventSpec:
    return spec(
        event.booking_key, summary=event.summary, start=event.start + by,
        end=event.end + by, sequence=event.sequence + 1,
    )


class CalendarContract:
    """Tests every `connectors.base.Calendar` must pass."""

    pytestmark: ClassVar = [pytest.mark.anyio]

    # -- create and find ---------------------------------------------------

    async def test_create_then_find_returns_the_event(self, harness: Harness) -> None:
        ref = await harness.calendar.create(spec())
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert found.ref.same_version(ref)
        assert (found.booking_key, found.summary) == ("b-1", "Haircut with Anna")
        assert (found.start, found.end) == (MONDAY_10, MONDAY_10 + HOUR)
        assert found.busy

    async def test_find_unknown_booking_is_none(self, harness: Harness) -> None:
        await harness.calendar.create(spec("b-1"))
        assert await harness.calendar.find_by_booking("b-2") is None

    async def test_create_twice_fails_and_keeps_the_first(self, harness: Harness) -> None:
        await harness.calendar.create(spec())
        with pytest.raises(PreconditionFailed):
            await harness.calendar.create(spec(summary="Overwritten"))
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert found.summary == "Haircut with Anna"

    # -- update ------------------------------------------------------------

    async def test_update_with_current_etag_replaces_it(self, harness: Harness) -> None:
        ref = await harness.calendar.create(spec())
        new_ref = await harness.calendar.update(ref, moved(spec(), 2 * HOUR))
        assert new_ref.remote_id == ref.remote_id
        assert not same_etag(new_ref.etag, ref.etag)
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert found.ref.same_version(new_ref)
        assert found.start == MONDAY_10 + 2 * HOUR

    async def test_update_with_stale_etag_fails(self, harness: Harness) -> None:
        ref = await harness.calendar.create(spec())
        await harness.calendar.update(ref, moved(spec(), HOUR))
        with pytest.raises(PreconditionFailed):
            await harness.calendar.update(ref, moved(spec(), 3 * HOUR))
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert found.start == MONDAY_10 + HOUR

    @pytest.mark.parametrize("known_etag", [True, False])
    async def test_update_of_missing_event_is_not_found(
        self, harness: Harness, known_etag: bool
    ) -> None:
        ref = await harness.calendar.create(spec())
        await harness.calendar.delete(ref)
        gone = ref if known_etag else RemoteRef(ref.remote_id, None)
        with pytest.raises(RemoteNotFound):
            await harness.calendar.update(gone, spec())
        assert await harness.calendar.find_by_booking("b-1") is None

    # -- delete ------------------------------------------------------------

    async def test_delete_then_find_is_none(self, harness: Harness) -> None:
        ref = await harness.calendar.create(spec())
        await harness.calendar.delete(ref)
        assert await harness.calendar.find_by_booking("b-1") is None

    async def test_delete_with_stale_etag_fails_and_keeps_it(self, harness: Harness) -> None:
        ref = await harness.calendar.create(spec())
        await harness.calendar.update(ref, moved(spec(), HOUR))
        with pytest.raises(PreconditionFailed):
            await harness.calendar.delete(ref)
        assert await harness.calendar.find_by_booking("b-1") is not None

    @pytest.mark.parametrize("known_etag", [True, False])
    async def test_delete_of_missing_event_is_not_found(
        self, harness: Harness, known_etag: bool
    ) -> None:
        ref = await harness.calendar.create(spec())
        await harness.calendar.delete(ref)
        with pytest.raises(RemoteNotFound):
            await harness.calendar.delete(ref if known_etag else RemoteRef(ref.remote_id, None))

    # -- text and time zones -----------------------------------------------

    @pytest.mark.parametrize(
        "summary",
        [
            "Zahnreinigung für Jürgen — 東京 🦷",
            "Line one\nline two, with a comma; a semicolon: and a \\ backslash",
        ],
    )
    async def test_summary_round_trips(self, harness: Harness, summary: str) -> None:
        await harness.calendar.create(spec(summary=summary, description=summary))
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert found.summary == summary

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            # Berlin leaves DST on 2026-10-25 at 01:00 UTC: 02:00-03:00 happens twice.
            (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
            (datetime(2026, 10, 24, 23, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
            (datetime(2026, 10, 25, 1, 15, tzinfo=UTC), datetime(2026, 10, 25, 1, 45, tzinfo=UTC)),
            # ... and enters it on 2026-03-29 at 01:00 UTC: 02:00-03:00 never happens.
            (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ],
    )
    async def test_times_across_dst_change_round_trip(
        self, harness: Harness, start: datetime, end: datetime
    ) -> None:
        await harness.calendar.create(spec(start=start, end=end))
        found = await harness.calendar.find_by_booking("b-1")
        assert found is not None
        assert (found.start, found.end) == (start, end)
        busy = await harness.calendar.busy_time(start - HOUR, end + HOUR)
        assert busy == [BusyInterval(start, end)]

    # -- busy time -----------------------------------------------------------

    async def test_busy_time_has_own_and_foreign_busy_events(self, harness: Harness) -> None:
        await harness.calendar.create(spec("b-1"))
        await harness.calendar.create(spec("b-2", start=MONDAY_10 + 4 * HOUR,
                                           end=MONDAY_10 + 5 * HOUR,
                                           status=EventStatus.TENTATIVE))
        lunch = datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN)
        await harness.add_foreign(ForeignEvent("lunch", lunch, lunch + HOUR))
        await harness.add_foreign(ForeignEvent("reminder", lunch, lunch + HOUR, busy=False))
        busy = await harness.calendar.busy_time(MONDAY_10 - HOUR, MONDAY_10 + 8 * HOUR)
        assert busy == [
            BusyInterval(MONDAY_10, MONDAY_10 + HOUR),
            BusyInterval(MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR),  # lunch, 11:00 UTC
            BusyInterval(MONDAY_10 + 4 * HOUR, MONDAY_10 + 5 * HOUR),
        ]

    async def test_busy_time_expands_recurring_events_across_dst(
        self, harness: Harness
    ) -> None:
        standup = datetime(2026, 10, 15, 9, 0, tzinfo=BERLIN)
        await harness.add_foreign(ForeignEvent("standup", standup, standup + HOUR / 4,
                                               weekly_count=4))
        window_start = datetime(2026, 10, 20, tzinfo=UTC)
        busy = await harness.calendar.busy_time(window_start, window_start + 3 * WEEK)
        assert [interval.start for interval in busy] == [
            datetime(2026, 10, 22, 7, 0, tzinfo=UTC),  # 09:00 CEST
            datetime(2026, 10, 29, 8, 0, tzinfo=UTC),  # 09:00 CET
            datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
        ]

    async def test_busy_time_outside_all_events_is_empty(self, harness: Harness) -> None:
        await harness.calendar.create(spec())
        lunch = datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN)
        await harness.add_foreign(ForeignEvent("lunch", lunch, lunch + HOUR))
        assert await harness.calendar.busy_time(MONDAY_10 + WEEK, MONDAY_10 + 2 * WEEK) == []
        assert await harness.calendar.busy_time(MONDAY_10 - WEEK, MONDAY_10) == []

    async def test_busy_within_reads_just_the_slot(self, harness: Harness) -> None:
        lunch = datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN)
        await harness.add_foreign(ForeignEvent("lunch", lunch, lunch + HOUR))
        slot = lunch + HOUR / 2
        busy = await harness.calendar.busy_within(slot, slot + HOUR / 2, 10.0)
        assert busy == [BusyInterval(lunch.astimezone(UTC), (lunch + HOUR).astimezone(UTC))]
        assert await harness.calendar.busy_within(lunch + HOUR, lunch + 2 * HOUR, 10.0) == []



# -- the change feed (connectors/base.py, "Watching a calendar") ----------------

DAY = timedelta(days=1)
WINDOW = ChangeWindow(MONDAY_10 - DAY, MONDAY_10 + 2 * WEEK)
LUNCH = datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN)  # 11:00 UTC


Held = dict[str, str | None]


def held_after(answer: ChangeSet, held: Held | None = None) -> Held:
    """What a caller holds after taking in `answer`."""
    held = {} if held is None else dict(held)
    for remote_id in answer.removed:
        held.pop(remote_id, None)
    held.update((e.ref.remote_id, e.ref.etag) for e in answer.changed)
    return held


def by_name(answer: ChangeSet) -> dict[str, ObservedEvent]:
    """The changed events by booking key, or by UID for events syncd did not write."""
    return {e.booking_key or e.uid or e.ref.remote_id: e for e in answer.changed}


def foreign(answer: ChangeSet) -> list[ObservedEvent]:
    return [e for e in answer.changed if e.booking_key is None]


class ChangeFeedContract:
    """Tests every `Calendar.changes` must pass; the harness fixture is a `FeedHarness`."""

    pytestmark: ClassVar = [pytest.mark.anyio]

    async def test_the_first_answer_lists_the_window(self, harness: FeedHarness) -> None:
        ref = await harness.calendar.create(spec("b-1"))
        await harness.add_foreign(ForeignEvent("lunch", LUNCH, LUNCH + HOUR))
        await harness.add_foreign(ForeignEvent("later", LUNCH + 5 * WEEK, LUNCH + 5 * WEEK + HOUR))
        answer = await harness.calendar.changes(None, WINDOW, {})
        assert answer.complete
        assert answer.cursor is not None
        assert (answer.reset_reason, answer.removed, answer.unreadable) == (None, frozenset(), ())
        own = by_name(answer)["b-1"]
        assert own.ref.same_version(ref)
        assert (own.start, own.end, own.busy) == (MONDAY_10, MONDAY_10 + HOUR, True)
        assert own.intervals == (BusyInterval(MONDAY_10, MONDAY_10 + HOUR),)
        (lunch,) = foreign(answer)
        assert lunch.intervals == (BusyInterval(MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR),)
        assert lunch.busy
        assert not lunch.cancelled

    async def test_what_is_held_unchanged_is_not_returned(self, harness: FeedHarness) -> None:
        await harness.calendar.create(spec("b-1"))
        await harness.add_foreign(ForeignEvent("lunch", LUNCH, LUNCH + HOUR))
        first = await harness.calendar.changes(None, WINDOW, {})
        again = await harness.calendar.changes(None, WINDOW, held_after(first))
        assert (again.complete, again.changed, again.removed) == (True, (), frozenset())
        delta = await harness.calendar.changes(first.cursor, WINDOW, held_after(first))
        assert (delta.complete, delta.changed, delta.removed) == (False, (), frozenset())

    async def test_a_delta_has_moves_and_deletions_but_not_what_is_held(
        self, harness: FeedHarness
    ) -> None:
        one = await harness.calendar.create(spec("b-1"))
        two = await harness.calendar.create(spec("b-2", start=MONDAY_10 + DAY,
                                                 end=MONDAY_10 + DAY + HOUR))
        first = await harness.calendar.changes(None, WINDOW, {})
        held = held_after(first)
        await harness.move_by_hand(one.remote_id, MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR)
        await harness.delete_by_hand(two.remote_id)
        three = await harness.calendar.create(spec("b-3", start=MONDAY_10 + 2 * DAY,
                                                   end=MONDAY_10 + 2 * DAY + HOUR))
        held[three.remote_id] = three.etag  # syncd's own write: recorded when it was made
        delta = await harness.calendar.changes(first.cursor, WINDOW, held)
        assert not delta.complete
        assert delta.cursor not in (None, first.cursor)
        assert set(by_name(delta)) == {"b-1"}
        moved = by_name(delta)["b-1"]
        assert (moved.start, moved.end) == (MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR)
        assert not same_etag(moved.ref.etag, one.etag)
        assert delta.removed == {two.remote_id}

    async def test_replayed_cursors_give_the_same_answer(self, harness: FeedHarness) -> None:
        one = await harness.calendar.create(spec("b-1"))
        first = await harness.calendar.changes(None, WINDOW, {})
        await harness.move_by_hand(one.remote_id, MONDAY_10 + HOUR, MONDAY_10 + 2 * HOUR)
        answers = [
            await harness.calendar.changes(first.cursor, WINDOW, held_after(first))
            for _ in range(2)
        ]
        shown = [{(e.ref, e.start) for e in answer.changed} for answer in answers]
        assert shown[0] == shown[1] == {(answers[0].changed[0].ref, MONDAY_10 + HOUR)}

    async def test_a_refused_cursor_gives_a_complete_listing(self, harness: FeedHarness) -> None:
        one = await harness.calendar.create(spec("b-1"))
        two = await harness.calendar.create(spec("b-2", start=MONDAY_10 + DAY,
                                                 end=MONDAY_10 + DAY + HOUR))
        first = await harness.calendar.changes(None, WINDOW, {})
        await harness.move_by_hand(one.remote_id, MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR)
        await harness.delete_by_hand(two.remote_id)
        refused = harness.refused_cursor(str(first.cursor))
        answer = await harness.calendar.changes(refused, WINDOW, held_after(first))
        if not harness.capabilities.refuses_unknown_sync_token:
            # DAViCal answers any token as a delta holding every object, removals none:
            # what changed is seen; a deletion only by a complete listing (reconcile).
            assert (answer.complete, set(by_name(answer)), answer.removed) == (
                False, {"b-1"}, frozenset())
            return
        assert answer.complete
        assert answer.reset_reason
        assert set(by_name(answer)) == {"b-1"}
        assert answer.removed == {two.remote_id}
        held = held_after(answer, held_after(first))
        after = await harness.calendar.changes(answer.cursor, WINDOW, held)
        assert (after.complete, after.changed, after.removed) == (False, (), frozenset())

    async def test_transparent_events_block_no_time(self, harness: FeedHarness) -> None:
        await harness.add_foreign(ForeignEvent("note", LUNCH, LUNCH + HOUR, busy=False))
        (note,) = foreign(await harness.calendar.changes(None, WINDOW, {}))
        assert (note.busy, note.intervals) == (False, ())

    async def test_series_are_expanded_within_the_window(self, harness: FeedHarness) -> None:
        standup = datetime(2026, 2, 23, 9, 0, tzinfo=BERLIN)  # Mondays, from a week before
        await harness.add_foreign(ForeignEvent("standup", standup, standup + HOUR / 4,
                                               weekly_count=6))
        answer = await harness.calendar.changes(None, WINDOW, {})
        starts = sorted(i.start for e in foreign(answer) for i in e.intervals)
        assert starts == [datetime(2026, 3, day, 8, 0, tzinfo=UTC) for day in (2, 9, 16)]

    async def test_own_events_moved_out_of_the_window_are_not_lost(
        self, harness: FeedHarness
    ) -> None:
        one = await harness.calendar.create(spec("b-1"))
        first = await harness.calendar.changes(None, WINDOW, {})
        far = MONDAY_10 + 10 * WEEK
        await harness.move_by_hand(one.remote_id, far, far + HOUR)
        delta = await harness.calendar.changes(first.cursor, WINDOW, held_after(first))
        moved = by_name(delta).get("b-1")
        # a windowed feed may report it as gone instead; the caller then looks it up
        assert moved is not None or delta.removed == {one.remote_id}
        if moved is not None:
            assert (moved.start, moved.intervals) == (far, ())

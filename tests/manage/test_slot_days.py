"""The slot list's days and a day's starts, against every free start converted one by one;
and the zone offsets they rest on, against datetime.astimezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.manage.days import days_with_starts, starts_on
from syncd.manage.offsets import offset_segments
from syncd.manage.slots import Interval, SlotRun, SlotShape, StaffTime, find_slots, free_runs
from tests.manage.test_slots import shape, working_hours

# Clocks going back across midnight (Santiago, Asuncion), a missing midnight (Beirut),
# half-hour changes (Lord Howe), odd offsets (Chatham, Kathmandu) and the plain ones.
ZONES = ["Europe/Berlin", "America/New_York", "America/Santiago", "America/Asuncion",
         "Asia/Beirut", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "UTC"]
CHANGE_DAYS = [date(2030, 3, 31), date(2030, 10, 27), date(2030, 3, 10), date(2030, 11, 3),
               date(2030, 4, 6), date(2030, 9, 7), date(2030, 3, 23), date(2030, 10, 6),
               date(2030, 4, 7), date(2030, 9, 29)]


@st.composite
def listings(draw: st.DrawFn) -> tuple[SlotShape, StaffTime, Interval, str]:
    day = draw(st.sampled_from(CHANGE_DAYS)) + timedelta(days=draw(st.integers(-1, 1)))
    base = datetime.combine(day, time(), UTC)
    start = base + timedelta(minutes=draw(st.integers(-24 * 60, 12 * 60)),
                             microseconds=draw(st.sampled_from([0, 1, 500_000, 999_999])))
    window = Interval(start, start + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60))))
    blocked = []
    for _ in range(draw(st.integers(0, 6))):
        at = base + timedelta(minutes=draw(st.integers(-24 * 60, 4 * 24 * 60)))
        blocked.append(Interval(at, at + timedelta(minutes=draw(st.integers(1, 240)))))
    slot_shape = shape(duration=draw(st.sampled_from([15, 30, 60, 150])),
                       interval=draw(st.sampled_from([15, 30, 45, 60, 25 * 60])),
                       after=draw(st.sampled_from([0, 10])))
    staff = StaffTime(draw(st.sampled_from(ZONES)), draw(working_hours()), blocked)
    return slot_shape, staff, window, draw(st.sampled_from(ZONES))


@settings(max_examples=150, deadline=None)
@given(listings())
def test_days_and_a_days_starts_are_those_of_every_free_start(
    case: tuple[SlotShape, StaffTime, Interval, str],
) -> None:
    slot_shape, staff, window, customer_zone = case
    zone = ZoneInfo(customer_zone)
    every = [start.astimezone(zone) for start in find_slots(slot_shape, staff, window)]
    runs = free_runs(slot_shape, staff, window)
    days = days_with_starts(runs, customer_zone, window)
    assert days == sorted({start.date() for start in every})
    for day in {*days, window.start.date(), window.end.date() + timedelta(days=1)}:
        expected = [start for start in every if start.date() == day]
        shown = starts_on(runs, customer_zone, day)
        assert [s.isoformat() for s in shown] == [s.isoformat() for s in expected]


def test_a_listing_begun_just_after_the_clocks_change_ends() -> None:
    """Once the offsets were sampled from the moment of the call: one landing within a second
    after a change (the moment has microseconds) kept the search for the change going forever."""
    change = datetime(2030, 3, 31, 1, 0, tzinfo=UTC)  # Berlin goes to summer time
    start = change + timedelta(days=2, microseconds=500_000) - timedelta(minutes=30)
    staff = StaffTime("Europe/Berlin", {"tue": [["09:00", "10:00"]]}, [])
    slots = find_slots(shape(), staff, Interval(start, start + timedelta(days=2)))
    assert [s.isoformat() for s in slots] == ["2030-04-02T07:00:00+00:00",
                                              "2030-04-02T07:30:00+00:00"]


def test_a_run_cut_to_a_stretch_keeps_its_step() -> None:
    nine = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)
    run = SlotRun(nine, nine + timedelta(hours=3), timedelta(minutes=45))  # 9:00 ... 11:15
    cut = run.within(nine + timedelta(minutes=1), nine + timedelta(hours=1, minutes=30))
    assert cut is not None
    assert list(cut.starts()) == [nine + timedelta(minutes=45)]  # 10:30 is the end: left out
    assert run.within(nine + timedelta(minutes=46), nine + timedelta(minutes=89)) is None
    assert run.within(nine, nine + timedelta(days=1)) is run


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(CHANGE_DAYS), st.integers(-36 * 60, 36 * 60),
       st.integers(0, 5 * 24 * 60), st.lists(st.integers(0, 10_000), max_size=20))
def test_offset_segments_agree_with_astimezone(
    zone_name: str, day: date, shift: int, length: int, probes: list[int]
) -> None:
    start = datetime.combine(day, time(), UTC) + timedelta(minutes=shift, seconds=7)
    end = start + timedelta(minutes=length)
    segments = offset_segments(zone_name, start, end)
    assert [s.start for s in segments[:1]] == ([start] if start < end else [])
    assert [s.end for s in segments[-1:]] == ([end] if start < end else [])
    for before, after in pairwise(segments):
        assert before.end == after.start
        assert before.offset != after.offset
    zone = ZoneInfo(zone_name)
    for segment in segments:
        for instant in (segment.start, segment.end - timedelta(seconds=1)):
            assert instant.astimezone(zone).utcoffset() == segment.offset
    for probe in probes:
        instant = start + (end - start) * probe / 10_000
        found = [s for s in segments if s.start <= instant < s.end]
        if start <= instant < end:
            assert [s.offset for s in found] == [instant.astimezone(zone).utcoffset()]

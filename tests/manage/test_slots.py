"""Free start times: working hours as wall times (across DST), buffers, blocks, the window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.manage.slots import WEEKDAYS, Interval, SlotShape, StaffTime, find_slots

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
MINUTE = timedelta(minutes=1)


def shape(duration: int = 30, interval: int = 30, before: int = 0, after: int = 0) -> SlotShape:
    return SlotShape(timedelta(minutes=duration), timedelta(minutes=before),
                     timedelta(minutes=after), timedelta(minutes=interval))


def day_window(day: date, zone: str) -> Interval:
    start = datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)
    return Interval(start - timedelta(hours=6), start + timedelta(hours=30))


def local_walls(slots: list[datetime], zone: str) -> list[str]:
    return [s.astimezone(ZoneInfo(zone)).strftime("%H:%M%z") for s in slots]


def every_day(*ranges: tuple[str, str]) -> dict[str, list[list[str]]]:
    return {day: [list(r) for r in ranges] for day in WEEKDAYS}


def test_an_ordinary_morning() -> None:
    staff = StaffTime(BERLIN, every_day(("09:00", "12:00")), [])
    slots = find_slots(shape(), staff, day_window(date(2030, 3, 6), BERLIN))
    assert local_walls(slots, BERLIN) == [
        "09:00+0100", "09:30+0100", "10:00+0100", "10:30+0100", "11:00+0100", "11:30+0100"]


def test_other_bookings_block_with_both_buffers() -> None:
    booked = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, 10 minutes' buffer after
    blocked = [Interval(booked, booked + timedelta(minutes=40))]
    staff = StaffTime(BERLIN, every_day(("09:00", "12:00")), blocked)
    slots = find_slots(shape(after=10), staff, day_window(date(2030, 3, 6), BERLIN))
    # 09:30 would run into the booking with its own buffer; 10:30 starts inside the other's buffer
    assert local_walls(slots, BERLIN) == ["09:00+0100", "11:00+0100", "11:30+0100"]


def test_the_window_bounds_starts() -> None:
    staff = StaffTime(BERLIN, every_day(("09:00", "12:00")), [])
    first = datetime(2030, 3, 6, 9, 15, tzinfo=UTC)  # 10:15 in Berlin
    window = Interval(first, first + timedelta(hours=1))
    assert local_walls(find_slots(shape(), staff, window), BERLIN) == ["10:30+0100", "11:00+0100"]


def test_adjacent_ranges_join_and_24_00_ends_the_day() -> None:
    hours = {"wed": [["22:00", "23:00"], ["23:00", "24:00"]], "thu": [["00:00", "01:00"]]}
    staff = StaffTime(BERLIN, hours, [])
    window = Interval(datetime(2030, 3, 6, tzinfo=UTC), datetime(2030, 3, 8, tzinfo=UTC))
    slots = find_slots(shape(duration=60, interval=30), staff, window)
    assert local_walls(slots, BERLIN) == [
        "22:00+0100", "22:30+0100", "23:00+0100", "23:30+0100", "00:00+0100"]


def test_the_night_clocks_go_forward_has_no_starts_in_the_gap() -> None:
    staff = StaffTime(BERLIN, {"sun": [["01:00", "04:00"]]}, [])
    slots = find_slots(shape(), staff, day_window(date(2030, 3, 31), BERLIN))
    assert local_walls(slots, BERLIN) == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200"]


def test_the_night_clocks_go_back_offers_the_repeated_hour_twice() -> None:
    staff = StaffTime(BERLIN, {"sun": [["01:00", "04:00"]]}, [])
    slots = find_slots(shape(), staff, day_window(date(2030, 10, 27), BERLIN))
    assert local_walls(slots, BERLIN) == [
        "01:00+0200", "01:30+0200", "02:00+0200", "02:30+0200",
        "02:00+0100", "02:30+0100", "03:00+0100", "03:30+0100"]


def test_a_long_appointment_spans_the_shortened_night() -> None:
    staff = StaffTime(NEW_YORK, {"sun": [["00:00", "04:00"]]}, [])
    slots = find_slots(shape(duration=180, interval=60), staff, day_window(date(2030, 3, 10),
                                                                           NEW_YORK))
    # four wall hours are three real ones: only a start at midnight fits three hours
    assert local_walls(slots, NEW_YORK) == ["00:00-0500"]


def test_working_hours_stay_on_the_wall_clock_across_the_change() -> None:
    staff = StaffTime(NEW_YORK, every_day(("09:00", "10:00")), [])
    window = Interval(datetime(2030, 3, 9, tzinfo=UTC), datetime(2030, 3, 12, tzinfo=UTC))
    slots = find_slots(shape(duration=60, interval=60), staff, window)
    assert [s.isoformat() for s in slots] == [
        "2030-03-09T14:00:00+00:00", "2030-03-10T13:00:00+00:00", "2030-03-11T13:00:00+00:00"]


# The property: against a minute-by-minute oracle built on datetime.astimezone alone.

TRANSITION_DAYS = [date(2030, 3, 31), date(2030, 10, 27), date(2030, 3, 10), date(2030, 11, 3),
                   date(2030, 6, 12)]


@st.composite
def working_hours(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    week = {}
    for day in WEEKDAYS:
        points = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        ranges = [[_hhmm(a * 30), _hhmm(b * 30)] for a, b in zip(points[::2], points[1::2],
                                                                  strict=False)]
        if ranges:
            week[day] = ranges
    return week


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def cases(draw: st.DrawFn) -> tuple[SlotShape, StaffTime, Interval]:
    zone = draw(st.sampled_from([BERLIN, NEW_YORK]))
    day = draw(st.sampled_from(TRANSITION_DAYS)) + timedelta(days=draw(st.integers(-1, 1)))
    base = datetime.combine(day, time(), UTC)
    start = base + timedelta(minutes=draw(st.integers(-12 * 60, 12 * 60)))
    window = Interval(start, start + timedelta(minutes=draw(st.integers(60, 3 * 24 * 60))))
    blocked = []
    for _ in range(draw(st.integers(0, 6))):
        at = base + timedelta(minutes=draw(st.integers(-24 * 60, 4 * 24 * 60)))
        blocked.append(Interval(at, at + timedelta(minutes=draw(st.integers(1, 240)))))
    slot_shape = shape(
        duration=draw(st.sampled_from([15, 30, 45, 60, 90, 150])),
        interval=draw(st.sampled_from([15, 20, 30, 45, 60])),
        before=draw(st.sampled_from([0, 5, 15])),
        after=draw(st.sampled_from([0, 10, 30])),
    )
    return slot_shape, StaffTime(zone, draw(working_hours()), blocked), window


class Oracle:
    """Minute by minute over a span: is it working time, is it blocked, is it on the grid."""

    def __init__(self, slot_shape: SlotShape, staff: StaffTime, window: Interval) -> None:
        self.origin = window.start - timedelta(days=1)
        minutes = int((window.end - self.origin) / MINUTE) + 2 * 24 * 60
        zone = ZoneInfo(staff.timezone)
        walls = [(self.origin + i * MINUTE).astimezone(zone).replace(tzinfo=None)
                 for i in range(minutes)]
        self.walls = walls
        self.hours, self.interval = staff.working_hours, slot_shape.interval
        self.working = list(accumulate((0, *(int(self._works(w) is not None) for w in walls))))
        self.blocked = list(accumulate((0, *(int(self._blocked(i, staff.blocked))
                                             for i in range(minutes)))))

    def _ranges(self, wall: datetime) -> list[tuple[datetime, datetime]]:
        midnight = datetime.combine(wall.date(), time())
        found = []
        for first, until in self.hours.get(WEEKDAYS[wall.weekday()], []):
            a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (first, until))
            found.append((midnight + timedelta(minutes=a), midnight + timedelta(minutes=b)))
        return found

    def _works(self, wall: datetime) -> tuple[datetime, datetime] | None:
        return next(((a, b) for a, b in self._ranges(wall) if a <= wall < b), None)

    def _blocked(self, index: int, blocked: list[Interval]) -> bool:
        t = self.origin + index * MINUTE
        return any(b.start <= t < b.end for b in blocked)

    def index(self, instant: datetime) -> int:
        return int((instant - self.origin) / MINUTE)

    def on_grid(self, instant: datetime) -> bool:
        wall = self.walls[self.index(instant)]
        return any(a <= wall < b and (wall - a) % self.interval == timedelta(0)
                   for a, b in self._ranges(wall))

    def all_working(self, first: int, last: int) -> bool:
        return self.working[last] - self.working[first] == last - first

    def any_blocked(self, first: int, last: int) -> bool:
        return self.blocked[last] - self.blocked[first] > 0

    def free(self, slot_shape: SlotShape, start: datetime) -> bool:
        i = self.index(start)
        end = i + int(slot_shape.duration / MINUTE)
        occupied = slot_shape.occupied(start)
        return (self.on_grid(start) and self.all_working(i, end)
                and not self.any_blocked(self.index(occupied.start), self.index(occupied.end)))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_offered_slots_are_exactly_the_free_ones(case: tuple[SlotShape, StaffTime, Interval]
                                                 ) -> None:
    slot_shape, staff, window = case
    offered = find_slots(slot_shape, staff, window)
    oracle = Oracle(slot_shape, staff, window)
    for start in offered:  # never in a block, a buffer's way, or outside working hours
        assert window.start <= start < window.end
        assert oracle.free(slot_shape, start), start
        assert not any(slot_shape.occupied(start).overlaps(b) for b in staff.blocked)
    minutes = int((window.end - window.start) / MINUTE)
    first = window.start.replace(second=0, microsecond=0)
    expected = [first + i * MINUTE for i in range(minutes + 1)
                if window.start <= first + i * MINUTE < window.end
                and oracle.free(slot_shape, first + i * MINUTE)]
    assert offered == expected  # and every free start is offered

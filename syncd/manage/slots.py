"""Free start times for a booking with one staff member. Pure: a function of data and time.

Working hours are wall times in the staff member's own zone, so a working day
is the set of instants whose wall clock reads within a range on that date: on
the day clocks go forward it is an hour shorter, on the day they go back an
hour longer. Candidate starts step through each range on the wall clock by the
service's slot interval; a wall time the clock skips is no start at all, one
it shows twice is two starts. A start is offered when the appointment lies
inside working hours and the appointment with its buffers overlaps nothing
blocked (other bookings with their own buffers, busy time on the calendars).

The starts are not tried one by one: where the offset stays the same, a
range's candidates are evenly spaced instants, and the free ones among them
are those that fall into the stretches where an appointment may start. So the
free starts come as a few runs per day (`SlotRun`), whatever the interval.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from syncd.manage.offsets import Segment, offset_segments

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MARGIN = timedelta(days=2)
_TICK = timedelta(microseconds=1)  # datetimes are whole microseconds: closed ends become open

# [start, end) in aware UTC, as a pair: the many pieces worked with inside free_runs
# cost a third of an Interval each to make
Span = tuple[datetime, datetime]


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end) in aware UTC."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class SlotShape:
    """What one appointment of the service occupies."""

    duration: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    interval: timedelta  # distance between candidate starts on the wall clock

    def occupied(self, start: datetime) -> Interval:
        return Interval(start - self.buffer_before, start + self.duration + self.buffer_after)


@dataclass(frozen=True)
class StaffTime:
    """A staff member's week and what already fills it."""

    timezone: str
    working_hours: Mapping[str, Sequence[Sequence[str]]]  # {"mon": [["09:00", "17:00"]]}
    blocked: Sequence[Interval]


@dataclass(frozen=True)
class SlotRun:
    """Starts `first`, `first + step`, ... up to and including `last` (aware UTC)."""

    first: datetime
    last: datetime
    step: timedelta

    def starts(self) -> Iterator[datetime]:
        count = (self.last - self.first) // self.step + 1
        return (self.first + self.step * index for index in range(count))

    def within(self, start: datetime, end: datetime) -> SlotRun | None:
        """The run's starts in [start, end), or None when there are none."""
        first, last = self.first, self.last
        if start <= first and last < end:
            return self
        if start > first:
            first += self.step * -((first - start) // self.step)  # rounded up
        if end <= last:
            last = self.first + self.step * ((end - _TICK - self.first) // self.step)
        return SlotRun(first, last, self.step) if first <= last else None


def find_slots(shape: SlotShape, staff: StaffTime, window: Interval) -> list[datetime]:
    """Every free start in `window` (aware UTC, ascending)."""
    return sorted({start for run in free_runs(shape, staff, window) for start in run.starts()})


def free_runs(shape: SlotShape, staff: StaffTime, window: Interval) -> list[SlotRun]:
    """Every free start in `window`, as runs in no order (overlapping ranges repeat starts)."""
    span = Interval(window.start - _MARGIN, window.end + shape.duration + _MARGIN)
    segments = offset_segments(staff.timezone, span.start, span.end)
    ranges = list(_wall_ranges(staff.working_hours, ZoneInfo(staff.timezone), span))
    working = _merged([piece for wall_start, wall_end in ranges
                       for piece in _instants_between(wall_start, wall_end, segments)])
    allowed = _open_starts(shape, working, staff.blocked, window)
    return [
        free
        for run in _candidate_runs(ranges, segments, shape.interval)
        for free in _runs_inside(run, allowed)
    ]


def _open_starts(
    shape: SlotShape, working: list[Span], blocked: Sequence[Interval], window: Interval
) -> list[Span]:
    """Where in `window` an appointment may start: it fits into working time, clear of blocks.

    `working` is merged. A start s fits a working piece p when p.start <= s <= p.end -
    duration; it clashes with a block b when s - buffer_before < b.end and b.start <
    s + duration + buffer_after.
    """
    fits = _merged([(max(start, window.start), min(end - shape.duration + _TICK, window.end))
                    for start, end in working])
    reach = shape.duration + shape.buffer_after - _TICK
    blocks = _merged([(block.start, block.end) for block in blocked])
    clashes = _merged([(start - reach, end + shape.buffer_before) for start, end in blocks])
    return _subtract(fits, clashes)


def _candidate_runs(
    ranges: list[tuple[datetime, datetime]], segments: list[Segment], step: timedelta
) -> Iterator[SlotRun]:
    """Each range's wall-clock grid, as instants: one run per offset the range meets."""
    for wall_start, wall_end in ranges:
        if wall_start >= wall_end:
            continue
        last_wall = wall_start + step * ((wall_end - _TICK - wall_start) // step)
        for segment in segments:
            grid = SlotRun(wall_start - segment.offset, last_wall - segment.offset, step)
            run = grid.within(segment.start, segment.end)
            if run is not None:
                yield run


def _runs_inside(run: SlotRun, allowed: list[Span]) -> Iterator[SlotRun]:
    """The parts of `run` that lie in the `allowed` spans (sorted, disjoint)."""
    index = bisect_right(allowed, run.first, key=itemgetter(1))
    while index < len(allowed) and allowed[index][0] <= run.last:
        part = run.within(*allowed[index])
        if part is not None:
            yield part
        index += 1


def _wall_ranges(
    hours: Mapping[str, Sequence[Sequence[str]]], zone: ZoneInfo, span: Interval
) -> Iterator[tuple[datetime, datetime]]:
    """Each working range as wall times, for every local date the span touches.

    A wall time is written as the UTC instant that shows the same clock reading: less the
    zone's offset, it is the instant itself."""
    day = span.start.astimezone(zone).date()
    last = span.end.astimezone(zone).date()
    while day <= last:
        for first, until in hours.get(WEEKDAYS[day.weekday()], ()):
            yield _wall(day, first), _wall(day, until)
        day += timedelta(days=1)


def _wall(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time(), UTC) + _clock_time(hhmm)


@functools.lru_cache(maxsize=256)
def _clock_time(hhmm: str) -> timedelta:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return timedelta(hours=hours, minutes=minutes)


def _instants_between(
    wall_start: datetime, wall_end: datetime, segments: Sequence[Segment]
) -> Iterator[Span]:
    """The instants whose wall clock reads within [wall_start, wall_end)."""
    for segment in segments:
        start = max(wall_start - segment.offset, segment.start)
        end = min(wall_end - segment.offset, segment.end)
        if start < end:
            yield start, end


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping and touching spans joined; empty ones dropped."""
    merged: list[Span] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(kept: list[Span], removed: list[Span]) -> list[Span]:
    """`kept` less `removed`; both merged, and so is the result."""
    result: list[Span] = []
    index = 0
    for piece_start, piece_end in kept:
        start = piece_start
        while index < len(removed) and removed[index][1] <= start:
            index += 1
        cut = index
        while cut < len(removed) and removed[cut][0] < piece_end:
            if start < removed[cut][0]:
                result.append((start, removed[cut][0]))
            start = max(start, removed[cut][1])
            cut += 1
        if start < piece_end:
            result.append((start, piece_end))
    return result

"""Free start times for a booking with one staff member. Pure: a function of data and time.

Working hours are wall times in the staff member's own zone, so a working day
is the set of instants whose wall clock reads within a range on that date: on
the day clocks go forward it is an hour shorter, on the day they go back an
hour longer. Candidate starts step through each range on the wall clock by the
service's slot interval; a wall time the clock skips is no start at all, one
it shows twice is two starts. A start is offered when the appointment lies
inside working hours and the appointment with its buffers overlaps nothing
blocked (other bookings with their own buffers, busy time on the calendars).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SAMPLE = timedelta(minutes=30)  # zones never change offset twice within this
_MARGIN = timedelta(days=2)


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
class _Segment:
    """A stretch of time during which the zone's offset from UTC stays the same."""

    start: datetime
    end: datetime
    offset: timedelta


def find_slots(shape: SlotShape, staff: StaffTime, window: Interval) -> list[datetime]:
    """Every free start in `window` (aware UTC, ascending)."""
    zone = ZoneInfo(staff.timezone)
    span = Interval(window.start - _MARGIN, window.end + shape.duration + _MARGIN)
    segments = offset_segments(zone, span)
    working, candidates = _working_time(shape, staff, zone, span, segments)
    blocked = merge(staff.blocked)
    return [
        start for start in sorted(candidates)
        if window.start <= start < window.end
        and _inside(working, Interval(start, start + shape.duration))
        and not _overlaps_any(blocked, shape.occupied(start))
    ]


def _working_time(
    shape: SlotShape, staff: StaffTime, zone: ZoneInfo, span: Interval, segments: list[_Segment]
) -> tuple[list[Interval], set[datetime]]:
    pieces: list[Interval] = []
    candidates: set[datetime] = set()
    for wall_start, wall_end in _wall_ranges(staff.working_hours, zone, span):
        pieces.extend(_instants_between(wall_start, wall_end, segments))
        for wall in _grid(wall_start, wall_end, shape.interval):
            candidates.update(instants_at(wall, segments))
    return merge(pieces), candidates


def _wall_ranges(
    hours: Mapping[str, Sequence[Sequence[str]]], zone: ZoneInfo, span: Interval
) -> Iterator[tuple[datetime, datetime]]:
    """Each working range as naive wall times, for every local date the span touches."""
    day = span.start.astimezone(zone).date()
    last = span.end.astimezone(zone).date()
    while day <= last:
        for first, until in hours.get(WEEKDAYS[day.weekday()], ()):
            yield _wall(day, first), _wall(day, until)
        day += timedelta(days=1)


def _wall(day: date, hhmm: str) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time()) + timedelta(hours=hours, minutes=minutes)


def _grid(wall_start: datetime, wall_end: datetime, step: timedelta) -> Iterator[datetime]:
    wall = wall_start
    while wall < wall_end:
        yield wall
        wall += step


def offset_segments(zone: ZoneInfo, span: Interval) -> list[_Segment]:
    """The span cut where the zone's offset changes, each piece with its offset."""
    segments: list[_Segment] = []
    start, offset = span.start, _offset(zone, span.start)
    probe = span.start
    while probe < span.end:
        probe = min(probe + _SAMPLE, span.end)
        if _offset(zone, probe) != offset:
            change = _first_change(zone, probe - _SAMPLE, probe, offset)
            segments.append(_Segment(start, change, offset))
            start, offset = change, _offset(zone, change)
    segments.append(_Segment(start, span.end, offset))
    return segments


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _first_change(zone: ZoneInfo, low: datetime, high: datetime, before: timedelta) -> datetime:
    """The first whole second in (low, high] whose offset differs from `before`."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


def _as_utc(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def instants_at(wall: datetime, segments: Sequence[_Segment]) -> list[datetime]:
    """The instants whose wall clock reads `wall`: none in a gap, two in an overlap."""
    found = []
    for segment in segments:
        instant = _as_utc(wall, segment.offset)
        if segment.start <= instant < segment.end:
            found.append(instant)
    return found


def _instants_between(
    wall_start: datetime, wall_end: datetime, segments: Sequence[_Segment]
) -> Iterator[Interval]:
    """The instants whose wall clock reads within [wall_start, wall_end)."""
    for segment in segments:
        start = max(_as_utc(wall_start, segment.offset), segment.start)
        end = min(_as_utc(wall_end, segment.offset), segment.end)
        if start < end:
            yield Interval(start, end)


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined; empty ones dropped."""
    merged: list[Interval] = []
    for interval in sorted(i for i in intervals if i.start < i.end):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def _inside(merged: list[Interval], piece: Interval) -> bool:
    index = bisect_right(merged, piece.start, key=lambda interval: interval.start) - 1
    return index >= 0 and merged[index].end >= piece.end


def _overlaps_any(merged: list[Interval], piece: Interval) -> bool:
    index = bisect_right(merged, piece.start, key=lambda interval: interval.end)
    return index < len(merged) and merged[index].start < piece.end

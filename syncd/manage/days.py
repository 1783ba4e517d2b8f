"""Free starts by the customer's calendar day. Pure: a function of the runs and the zone.

Where the customer's zone keeps one offset, the date of an instant is that of
instant + offset, and a day is one stretch of instants; so whether a run has a
start on a day is a matter of arithmetic, and no start needs converting until
it is shown. (A date is not simply a stretch of time: where clocks go back
across midnight, the same date comes round twice.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from syncd.manage.offsets import Segment, offset_segments
from syncd.manage.slots import Interval, SlotRun

_DAY = timedelta(days=1)
_FURTHEST_OFFSET = timedelta(days=1)  # more than any zone's distance from UTC


def days_with_starts(runs: Iterable[SlotRun], zone_name: str, span: Interval) -> list[date]:
    """The dates in the zone on which the runs (all within `span`) have a start, ascending."""
    segments = offset_segments(zone_name, span.start, span.end)
    found: set[date] = set()
    for run in runs:
        for segment in segments:
            part = run.within(segment.start, segment.end)
            if part is not None:
                found.update(_dates_of(part, segment.offset))
    return sorted(found)


def starts_on(runs: Iterable[SlotRun], zone_name: str, day: date) -> list[datetime]:
    """The runs' starts whose date in the zone is `day`, ascending, shown in that zone."""
    midnight = datetime.combine(day, time(), UTC)
    near = Interval(midnight - _FURTHEST_OFFSET, midnight + _DAY + _FURTHEST_OFFSET)
    segments = offset_segments(zone_name, near.start, near.end)
    found: set[datetime] = set()
    for run in runs:
        if run.last < near.start or run.first >= near.end:
            continue
        for segment in segments:
            part = _part_on(run, segment, day)
            if part is not None:
                found.update(part.starts())
    zone = ZoneInfo(zone_name)
    return [start.astimezone(zone) for start in sorted(found)]


def _dates_of(run: SlotRun, offset: timedelta) -> Iterator[date]:
    """The dates of a run's starts, all of them under one offset."""
    first, last = (run.first + offset).date(), (run.last + offset).date()
    yield first
    day = first + _DAY
    while day < last:  # a long step may leap over a day
        start, end = _day_bounds(day, offset)
        if run.within(start, end) is not None:
            yield day
        day += _DAY
    if last != first:
        yield last


def _part_on(run: SlotRun, segment: Segment, day: date) -> SlotRun | None:
    start, end = _day_bounds(day, segment.offset)
    return run.within(max(start, segment.start), min(end, segment.end))


def _day_bounds(day: date, offset: timedelta) -> tuple[datetime, datetime]:
    """The instants whose date is `day` under `offset`: [start, end) in UTC."""
    midnight = datetime.combine(day, time(), UTC) - offset
    return midnight, midnight + _DAY

"""Where a time zone's offset from UTC changes. Pure: a function of the tz rules.

zoneinfo does not expose its transitions, so they are found by sampling the
offset every 30 minutes and narrowing each change down to the second. A slot
listing looks at some 60 days, thousands of samples, so each UTC day is worked
out once per process and kept: the rules do not change while it runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_SAMPLE = timedelta(minutes=30)  # zones never change offset twice within this
_DAY = timedelta(days=1)
_CACHED_DAYS = 8192  # zones x days: a few hundred bytes each


@dataclass(frozen=True)
class Segment:
    """[start, end) in aware UTC, during which the zone's offset stays the same."""

    start: datetime
    end: datetime
    offset: timedelta


def offset_segments(zone_name: str, start: datetime, end: datetime) -> list[Segment]:
    """[start, end) cut where the zone's offset changes, in order; [] when it is empty."""
    segments: list[Segment] = []
    day = start.astimezone(UTC).date()
    while _midnight(day) < end:
        for piece in _day_segments(zone_name, day):
            _append(segments, Segment(max(piece.start, start), min(piece.end, end), piece.offset))
        day += _DAY
    return segments


def _append(segments: list[Segment], piece: Segment) -> None:
    """Add `piece`, joined to the last one when the offset carries on across midnight."""
    if piece.start >= piece.end:
        return
    last = segments[-1] if segments else None
    if last is not None and last.offset == piece.offset and last.end == piece.start:
        segments[-1] = Segment(last.start, piece.end, piece.offset)
    else:
        segments.append(piece)


@functools.lru_cache(maxsize=_CACHED_DAYS)
def _day_segments(zone_name: str, day: date) -> tuple[Segment, ...]:
    zone = ZoneInfo(zone_name)
    start, end = _midnight(day), _midnight(day) + _DAY
    offset = _offset(zone, start)
    segments = []
    probe = start
    while probe < end:
        probe += _SAMPLE
        if _offset(zone, probe) != offset:
            change = _first_change(zone, probe - _SAMPLE, probe, offset)
            segments.append(Segment(start, change, offset))
            start, offset = change, _offset(zone, change)
    segments.append(Segment(start, end, offset))
    return tuple(segment for segment in segments if segment.start < segment.end)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


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

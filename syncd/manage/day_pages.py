"""The bookable window a fortnight at a time, in the customer's calendar days. Pure.

A listing shows the days with free times and the chosen day's times. Working
them out for the whole window (60 days by default) on every request costs a
read of every booking and all busy time in it, and a day list too long to
read on a phone; a fortnight's page costs a quarter of that, and the customer
moves to earlier or later pages.

Pages are counted from the window's first day: page 0 is its first fourteen
days, page 1 the next fourteen, and so on up to the page holding its last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from syncd.manage.slots import Interval

DAYS_PER_PAGE = 14
_PAGE = timedelta(days=DAYS_PER_PAGE)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class DayPage:
    first: date  # the page's first date in the customer's zone
    span: Interval  # its instants that lie in the bookable window
    earlier: date | None  # the first date of the page before, if any
    later: date | None  # the first date of the page after, if any


def day_page(window: Interval, zone_name: str, day: date | None) -> DayPage:
    """The page holding `day` (the first page when None or earlier, the last when later)."""
    zone = ZoneInfo(zone_name)
    opening = window.start.astimezone(zone).date()
    closing = max(window.start, window.end - _TICK).astimezone(zone).date()
    last_index = (closing - opening).days // DAYS_PER_PAGE
    index = 0 if day is None else (day - opening).days // DAYS_PER_PAGE
    index = min(max(index, 0), last_index)
    first = opening + _PAGE * index
    until = first + _PAGE
    span = Interval(max(window.start, _midnight(first, zone)),
                    min(window.end, _midnight(until, zone)))
    return DayPage(
        first=first,
        span=span if span.start <= span.end else Interval(span.start, span.start),
        earlier=first - _PAGE if index > 0 else None,
        later=until if index < last_index else None,
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone` (where midnight is skipped, the hour after it)."""
    return datetime.combine(day, time(), zone).astimezone(UTC)

"""Bounds on expanding a foreign series: anyone who can write to a staff calendar can put
`RRULE:FREQ=SECONDLY` there, and unbounded expansion stalls the daemon.

Before a series is expanded its work is estimated from its rules alone: the rule's
periods from DTSTART to the end of the window (the expansion library walks every one
of them) times the values each BY-part can add per period. A series over
MAX_RULE_STEPS, or with more than MAX_OCCURRENCES occurrences in the window, is not
expanded: it is set apart as unreadable. What passes the estimate is expanded off the
event loop (connectors/caldav/sync.py), within EXPANSION_SECONDS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime

import icalendar

from connectors.base import ChangeWindow
from connectors.errors import PermanentError

MAX_OCCURRENCES = 5000  # per event in the window: every 30 minutes for 90 days is 4,320
MAX_RULE_STEPS = 100_000  # a daily series from the year 1800 is about 83,000
EXPANSION_SECONDS = 10.0  # one object's expansion, run in a thread: a backstop to the estimate

_PERIOD_SECONDS = {
    "SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400,
}
_EXPANDING_PARTS = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY",
                    "BYWEEKNO", "BYMONTH", "BYSETPOS")


def check_bounded(calendar: icalendar.Calendar, window: ChangeWindow, href: str) -> None:
    """`PermanentError` naming the event when one of its rules would expand too far."""
    for vevent in calendar.walk("VEVENT"):
        start = _as_utc(vevent.get("DTSTART"))
        for rule in _rules(vevent):
            steps, in_window = _estimate(rule, start, window)
            if steps > MAX_RULE_STEPS or in_window > MAX_OCCURRENCES:
                raise PermanentError(
                    f"the series at {href} recurs too often to be read "
                    f"(about {min(steps, in_window):,.0f} occurrences)"
                )


def _rules(vevent: icalendar.Component) -> Iterable[icalendar.vRecur]:
    for name in ("RRULE", "EXRULE"):
        found = vevent.get(name)
        yield from found if isinstance(found, list) else [] if found is None else [found]


def _estimate(rule: icalendar.vRecur, start: datetime, window: ChangeWindow) -> tuple[float, float]:
    """(periods walked from DTSTART to the window's end, occurrences in the window), both
    times what the BY-parts can add per period; COUNT and UNTIL cap them."""
    period = _PERIOD_SECONDS.get(str(_first(rule, "FREQ", "")).upper())
    if period is None:
        raise PermanentError("a series with an unknown FREQ")
    period *= max(_number(rule, "INTERVAL", 1), 1)
    per_period = math.prod(max(len(rule.get(part, [])), 1) for part in _EXPANDING_PARTS)
    end = min(window.end, _until(rule) or window.end)
    walked = max((end - start).total_seconds(), 0) / period * per_period
    in_window = max((end - max(start, window.start)).total_seconds(), 0) / period * per_period
    count = _number(rule, "COUNT", 0)
    if count <= 0:
        return walked, in_window
    # without BY-parts every period is an occurrence: the walk stops after COUNT of them
    filtered = any(part in rule for part in _EXPANDING_PARTS)
    return (walked if filtered else min(walked, count)), min(in_window, count)


def _first(rule: icalendar.vRecur, part: str, default: object) -> object:
    values = rule.get(part)
    return values[0] if values else default


def _number(rule: icalendar.vRecur, part: str, default: int) -> int:
    try:
        return int(str(_first(rule, part, default)))
    except ValueError:
        raise PermanentError(f"a series with a bad {part}") from None


def _until(rule: icalendar.vRecur) -> datetime | None:
    until = _first(rule, "UNTIL", None)
    return None if until is None else _as_utc(until)


def _as_utc(value: object) -> datetime:
    """A DTSTART or UNTIL as aware UTC (floating and all-day read as UTC: an estimate)."""
    moment = getattr(value, "dt", value)
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if not isinstance(moment, datetime):
        raise PermanentError("a series without a readable DTSTART")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a moment at the very edge of `datetime`: near enough
        return moment.replace(tzinfo=UTC)

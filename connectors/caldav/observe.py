"""A calendar object as the change feed reports it: its master VEVENT and its busy occurrences.

Series are expanded with recurring-ical-events (RRULE, RDATE, EXDATE and
overridden instances), within the watched window only.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from connectors.base import BusyInterval, ChangeWindow, ObservedEvent, RemoteRef
from connectors.caldav.expansion import EXPANSION_SECONDS, check_bounded
from connectors.caldav.ical import (
    BOOKING_PROPERTY,
    ParsedEvent,
    events_of,
    instant,
    is_busy,
    read_calendar,
)
from connectors.errors import PermanentError
from connectors.timerange import in_sane_range

# Floating times and all-day dates are matched in the calendar's zone only after
# expansion, so expand a day more on each side and cut to the window afterwards.
_EXPANSION_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class CalendarObject:
    """One stored object (a VCALENDAR), read but not yet placed in time."""

    ref: RemoteRef
    calendar: icalendar.Calendar
    events: list[ParsedEvent]  # the master VEVENT first, then overridden instances

    @property
    def master(self) -> ParsedEvent:
        return self.events[0]

    @property
    def floating(self) -> bool:
        return any(e.floating for e in self.events)

    @property
    def recurring(self) -> bool:
        return self.master.recurs or len(self.events) > 1


def read_object(ref: RemoteRef, calendar_data: str) -> CalendarObject | None:
    """The object's events; None when it holds no VEVENT (a task, a journal entry);
    `PermanentError` for an object that cannot be read, whatever the reason."""
    try:
        calendar = read_calendar(essentials(calendar_data), ref.remote_id)
        events = events_of(calendar, ref.remote_id)
    except PermanentError:
        raise
    except Exception as exc:  # hostile data can break the parser in any way
        raise PermanentError(f"unreadable event at {ref.remote_id}: {type(exc).__name__}") from None
    if not events:
        return None
    masters = [e for e in events if not e.is_override]
    overrides = [e for e in events if e.is_override]
    return CalendarObject(ref, calendar, masters + overrides)


# What the feed reads of an object; icalendar would parse everything else (descriptions,
# attendees, alarms) slowly for nothing: most of a pass's own time on a busy calendar.
_WANTED = frozenset({
    "BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "TZID", "TZOFFSETFROM", "TZOFFSETTO",
    "UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "EXRULE",
    "RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP", BOOKING_PROPERTY,
    "SUMMARY",  # names an event the feed sets apart, to the merchant
})
_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_FOLD = re.compile(r"\r?\n[ \t]")
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")
_UNREAD = frozenset({"VALARM", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY"})


def essentials(calendar_data: str) -> str:
    """The object with only what the feed reads. A VTIMEZONE of a zone zoneinfo knows goes
    too: icalendar takes such a TZID from zoneinfo in any case."""
    kept: list[str] = []
    zone: list[str] | None = None  # a VTIMEZONE being read
    unread: str | None = None  # a component being skipped
    for line in _logical_lines(calendar_data):
        name = _name(line)
        value = _value(line) if name in ("BEGIN", "END") else ""  # what the tests below read
        if unread is not None:
            unread = None if (name, value) == ("END", unread) else unread
        elif zone is not None:
            zone.append(line)
            if (name, value) == ("END", "VTIMEZONE"):
                kept += [] if _known_zone(zone) else zone
                zone = None
        elif name == "BEGIN" and value in _UNREAD:
            unread = value
        elif (name, value) == ("BEGIN", "VTIMEZONE"):
            zone = [line]
        elif name in _WANTED:
            kept.append(line)
    return "".join(kept)


def _logical_lines(text: str) -> list[str]:
    """Content lines with their folded continuations (RFC 5545 3.1) kept with them. Lines
    end at LF (CRLF or a bare LF) only: `str.splitlines` would also break at U+2028 and
    the like, which a SUMMARY may carry, and read the rest as a content line of its own."""
    lines: list[str] = []
    for physical in _PHYSICAL_LINE.findall(text):
        if physical[:1] in (" ", "\t") and lines:
            lines[-1] += physical
        else:
            lines.append(physical)
    return lines


def names_of(calendar_data: str) -> tuple[str | None, str | None]:
    """The first UID and SUMMARY of an object the parsers refused, as far as they can be
    made out: what names the object to the merchant."""
    found: dict[str, str] = {}
    for line in _logical_lines(calendar_data):
        name = _name(line)
        if name in ("UID", "SUMMARY") and name not in found:
            found[name] = _text_value(line)
    return found.get("UID"), found.get("SUMMARY")


def _text_value(line: str) -> str:
    """A content line's value unfolded and unescaped (RFC 5545 3.3.11), its parameters
    (which may quote a colon) skipped."""
    unfolded = _FOLD.sub("", line).rstrip("\r\n")
    quoted = False
    for index, char in enumerate(unfolded):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return _TEXT_ESCAPE.sub(_unescaped, unfolded[index + 1:])
    return ""


def _unescaped(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\n" if char in "nN" else char


def _name(line: str) -> str:
    """All before the first ";" (parameters) or ":" (the value)."""
    return line.partition(":")[0].partition(";")[0].strip().upper()


def _value(line: str) -> str:
    return line.partition(":")[2].strip().upper()


def _known_zone(vtimezone: list[str]) -> bool:
    tzid = next((line.partition(":")[2].strip() for line in vtimezone if _name(line) == "TZID"),
                "")
    try:
        ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


async def observe_bounded(obj: CalendarObject, window: ChangeWindow, zone: tzinfo) -> ObservedEvent:
    """`observe`, a series expanded in a thread within EXPANSION_SECONDS; `PermanentError`
    (the object is unreadable) when it cannot be read within those bounds."""
    if not obj.recurring:
        return observe(obj, window, zone)
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(observe, obj, window, zone), EXPANSION_SECONDS
        )
    except TimeoutError:
        raise PermanentError(
            f"the series at {obj.ref.remote_id} took over {EXPANSION_SECONDS:g}s to expand"
        ) from None


def observe(obj: CalendarObject, window: ChangeWindow, zone: tzinfo) -> ObservedEvent:
    """The object as an `ObservedEvent`: its own time and its busy occurrences in `window`;
    `PermanentError` for an object that cannot be read, whatever the reason."""
    try:
        return _observe(obj, window, zone)
    except PermanentError:
        raise
    except Exception as exc:  # hostile data can break the parsers in any way
        raise PermanentError(
            f"unreadable event at {obj.ref.remote_id}: {type(exc).__name__}"
        ) from None


def _observe(obj: CalendarObject, window: ChangeWindow, zone: tzinfo) -> ObservedEvent:
    master = obj.master
    start, end = master.interval(zone)
    if not obj.recurring and not in_sane_range(start, end):
        raise PermanentError(f"the event at {obj.ref.remote_id} is dated outside 1970-2200")
    intervals = tuple(
        clipped for clipped in (window.clip(o) for o in busy_intervals(obj, window, zone))
        if clipped is not None
    )
    return ObservedEvent(
        ref=obj.ref,
        booking_key=master.booking_key,
        uid=master.uid,
        start=start,
        end=end,
        busy=master.busy,
        cancelled=master.cancelled,
        recurring=obj.recurring,
        intervals=tuple(sorted(set(intervals), key=lambda i: (i.start, i.end))),
    )


def busy_intervals(obj: CalendarObject, window: ChangeWindow, zone: tzinfo) -> list[BusyInterval]:
    """The object's busy time near `window` (a series: its instances there), not cut to it."""
    if obj.recurring:
        return _occurrences(obj, window, zone)
    return _single(obj.master, *obj.master.interval(zone))


def _single(master: ParsedEvent, start: datetime, end: datetime) -> list[BusyInterval]:
    return [BusyInterval(start, end)] if master.busy else []


def _occurrences(obj: CalendarObject, window: ChangeWindow, zone: tzinfo) -> list[BusyInterval]:
    """The series' busy instances. Only their wall-clock starts are taken from the
    expansion: its ends are wall-clock sums, where RFC 5545 means exact durations."""
    wide = ChangeWindow(window.start - _EXPANSION_MARGIN, window.end + _EXPANSION_MARGIN)
    check_bounded(obj.calendar, wide, obj.ref.remote_id)
    try:
        components = recurring_ical_events.of(obj.calendar).between(wide.start, wide.end)
        overrides = {instant(e.recurrence_id, zone): e for e in obj.events
                     if e.recurrence_id is not None}
        return [_interval(c, obj.master, overrides, zone)
                for c in components if c.name == "VEVENT" and is_busy(c)]
    except Exception as exc:  # the library raises all sorts on hostile rules
        raise PermanentError(
            f"cannot expand the series at {obj.ref.remote_id}: {type(exc).__name__}"
        ) from None


def _interval(
    component: icalendar.Event,
    master: ParsedEvent,
    overrides: dict[datetime, ParsedEvent],
    zone: tzinfo,
) -> BusyInterval:
    start: date | datetime = component.start
    recurrence_id = component.get("RECURRENCE-ID")
    override = None if recurrence_id is None else overrides.get(instant(recurrence_id.dt, zone))
    if override is not None:  # an instance given its own times
        return BusyInterval(*override.interval(zone))
    return BusyInterval(*master.interval_at(start, zone))

"""iCalendar for the CalDAV connector: a booking's VCALENDAR, and reading VEVENTs back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from connectors.base import EventSpec, EventStatus
from connectors.caldav.instants import end_after, to_utc
from connectors.errors import PermanentError
from connectors.icalwrite import escape_text, fold, utc_stamp
from connectors.wallclock import is_ambiguous, vtimezone

PRODID = "-//syncd//syncd//EN"
BOOKING_PROPERTY = "X-SYNCD-BOOKING"

_STATUS = {EventStatus.CONFIRMED: "CONFIRMED", EventStatus.TENTATIVE: "TENTATIVE"}
_VCALENDAR_BEGIN = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n".encode()
_VCALENDAR_END = b"END:VCALENDAR\r\n"


def event_to_ical(event: EventSpec, stamp: datetime | None = None) -> bytes:
    """The VCALENDAR stored for a booking: one VEVENT plus the VTIMEZONE it uses."""
    zone = _written_zone(event, _zone(event.timezone))
    years = (event.start.year, event.end.year)
    timezones = [] if zone is None else [vtimezone(zone.key, *years)]
    lines = _vevent(event, zone, stamp or datetime.now(UTC))
    vevent = "".join(fold(line) for line in lines).encode()
    return b"".join([_VCALENDAR_BEGIN, *timezones, vevent, _VCALENDAR_END])


def _vevent(event: EventSpec, zone: ZoneInfo | None, stamp: datetime) -> list[str]:
    # VALUE=TEXT on the tag makes readers unescape it like any text property.
    description = [f"DESCRIPTION:{escape_text(event.description)}"] if event.description else []
    location = [f"LOCATION:{escape_text(event.location)}"] if event.location else []
    return [
        "BEGIN:VEVENT",
        f"SUMMARY:{escape_text(event.summary)}",
        _time("DTSTART", event.start, zone),
        _time("DTEND", event.end, zone),
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"UID:{escape_text(event.booking_key)}",
        f"SEQUENCE:{event.sequence}",
        *description,
        *location,
        f"STATUS:{_STATUS[event.status]}",
        "TRANSP:OPAQUE",
        f"{BOOKING_PROPERTY};VALUE=TEXT:{escape_text(event.booking_key)}",
        "END:VEVENT",
    ]


def _time(name: str, instant: datetime, zone: ZoneInfo | None) -> str:
    if zone is None:
        return f"{name}:{utc_stamp(instant)}"
    return f"{name};TZID={zone.key}:{instant.astimezone(zone):%Y%m%dT%H%M%S}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PermanentError(f"unknown time zone {name!r}") from None


def _written_zone(event: EventSpec, zone: ZoneInfo) -> ZoneInfo | None:
    """The staff member's zone, or None (UTC) when a wall time there cannot say start or end.

    In the hour repeated when DST ends a wall time is ambiguous, and servers read
    it differently (RFC 5545 3.3.5 says the first occurrence; sabre and DAViCal
    take the second; Cyrus then finds DTEND not after DTSTART and refuses the
    event). Both times in UTC mean the same to every server.
    """
    if is_ambiguous(event.start.astimezone(zone)) or is_ambiguous(event.end.astimezone(zone)):
        return None
    return zone


@dataclass(frozen=True)
class ParsedEvent:
    """One VEVENT as stored: times as written (aware, floating, or all-day dates)."""

    uid: str | None
    booking_key: str | None  # the X-SYNCD-BOOKING tag, None on events syncd did not write
    summary: str
    start: date | datetime
    end: date | datetime
    busy: bool
    recurs: bool  # carries RRULE/RDATE: a series (syncd expands it, never the server)
    is_override: bool  # has a RECURRENCE-ID: one instance of a recurring event
    cancelled: bool = False  # STATUS:CANCELLED
    duration: timedelta | None = None  # its DURATION, when it has no DTEND
    recurrence_id: date | datetime | None = None  # of an overridden instance

    @property
    def floating(self) -> bool:
        """Whether its times need the calendar's own zone to mean an instant."""
        return any(not isinstance(t, datetime) or t.tzinfo is None for t in (self.start, self.end))

    def interval(self, floating_zone: tzinfo) -> tuple[datetime, datetime]:
        """Start and end as aware UTC datetimes, as RFC 5545 means them (instants.py)."""
        start = instant(self.start, floating_zone)
        if self.duration is not None:
            return start, end_after(self.start, self.duration, floating_zone)
        return start, instant(self.end, floating_zone)

    def interval_at(
        self, start: date | datetime, floating_zone: tzinfo
    ) -> tuple[datetime, datetime]:
        """The instance of this event's series that starts at wall time `start`: as long as
        the first one, exactly (RFC 5545 3.8.5.3); all-day ones as many days."""
        if self.duration is not None:
            return instant(start, floating_zone), end_after(start, self.duration, floating_zone)
        if not isinstance(self.start, datetime) or not isinstance(start, datetime):
            days = _as_date(self.end) - _as_date(self.start)
            return instant(start, floating_zone), instant(start + days, floating_zone)
        first_start, first_end = self.interval(floating_zone)
        begin = instant(start, floating_zone)
        return begin, begin + (first_end - first_start)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def instant(value: date | datetime, floating_zone: tzinfo) -> datetime:
    """A DTSTART/DTEND value as aware UTC; floating times and dates read in `floating_zone`."""
    return to_utc(value, floating_zone)


def parse_events(calendar_data: str | bytes, href: str) -> list[ParsedEvent]:
    """Every VEVENT in an object's calendar data; `PermanentError` if it cannot be read."""
    return events_of(read_calendar(calendar_data, href), href)


def read_calendar(calendar_data: str | bytes, href: str) -> icalendar.Calendar:
    """An object's VCALENDAR; `PermanentError` if it cannot be read."""
    try:
        return icalendar.Calendar.from_ical(calendar_data)
    except ValueError as exc:
        raise PermanentError(f"unreadable calendar data at {href}: {exc}") from None


def events_of(calendar: icalendar.Calendar, href: str) -> list[ParsedEvent]:
    """Every VEVENT of a VCALENDAR; `PermanentError` if one of them cannot be read."""
    try:
        return [_parsed(vevent) for vevent in calendar.events]
    except ValueError as exc:
        raise PermanentError(f"unreadable calendar data at {href}: {exc}") from None


def _parsed(vevent: icalendar.Event) -> ParsedEvent:
    return ParsedEvent(
        uid=_text(vevent, "UID"),
        booking_key=_text(vevent, BOOKING_PROPERTY),
        summary=_text(vevent, "SUMMARY") or "",
        start=vevent.start,
        end=vevent.end,
        busy=is_busy(vevent),
        recurs="RRULE" in vevent or "RDATE" in vevent,
        is_override="RECURRENCE-ID" in vevent,
        cancelled=(_text(vevent, "STATUS") or "").upper() == "CANCELLED",
        duration=vevent.decoded("DURATION") if "DURATION" in vevent and "DTEND" not in vevent
        else None,
        recurrence_id=vevent.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in vevent else None,
    )


def _text(vevent: icalendar.Component, name: str) -> str | None:
    value = vevent.get(name)
    return None if value is None else str(value)


def is_busy(vevent: icalendar.Component) -> bool:
    """Whether the event blocks time: neither transparent nor cancelled."""
    transparent = (_text(vevent, "TRANSP") or "").upper() == "TRANSPARENT"
    cancelled = (_text(vevent, "STATUS") or "").upper() == "CANCELLED"
    return not (transparent or cancelled)


def calendar_zone(calendar_data: str, href: str) -> tzinfo | None:
    """The zone of a calendar-timezone property (a VCALENDAR holding one VTIMEZONE)."""
    try:
        timezones = icalendar.Calendar.from_ical(calendar_data).timezones
    except ValueError as exc:
        raise PermanentError(f"unreadable calendar-timezone of {href}: {exc}") from None
    return _tzinfo(timezones[0]) if timezones else None


def _tzinfo(vtimezone: icalendar.Timezone) -> tzinfo:
    try:
        return ZoneInfo(str(vtimezone.get("TZID", "")))
    except (ZoneInfoNotFoundError, ValueError):
        zone: tzinfo = vtimezone.to_tz()
        return zone

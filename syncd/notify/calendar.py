"""The iCalendar part of customer messages (iMIP, RFC 6047): REQUEST or CANCEL.

The event carries the booking's UID, the same one its staff calendar events
carry, and the booking's SEQUENCE, so a calendar client that imported the
confirmation updates that same event on a reschedule and removes it on a
cancellation. Times are written in the customer's time zone, whose VTIMEZONE
(built by icalendar, once per zone and years) is included.

The VEVENT's dozen lines are written with connectors/icalwrite.py, escaped
and folded as RFC 5545 says, because icalendar's serializer cost more than the
rest of the message; the tests read every invitation back with icalendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.icalwrite import CRLF, escape_text, fold, utc_stamp
from connectors.wallclock import vtimezone, wall_time
from syncd.domain.bookings import BookingStatus
from syncd.notify.facts import BookingFacts
from syncd.notify.kinds import CalendarMethod
from syncd.notify.mime import one_line

PRODID = "-//syncd//syncd notifications//EN"


@dataclass(frozen=True)
class Party:
    name: str
    address: str  # a checked address


def invitation(
    facts: BookingFacts,
    method: CalendarMethod,
    organizer: Party,
    attendee: Party,
    stamp: datetime,
) -> str:
    """The VCALENDAR with METHOD `method`, its VTIMEZONE and the booking's VEVENT."""
    header = f"BEGIN:VCALENDAR{CRLF}VERSION:2.0{CRLF}PRODID:{PRODID}{CRLF}METHOD:{method}{CRLF}"
    timezone = vtimezone(facts.customer_timezone, facts.start.year, facts.end.year).decode()
    lines = _vevent(facts, method, organizer, attendee, stamp)
    return header + timezone + "".join(fold(line) for line in lines) + f"END:VCALENDAR{CRLF}"


def _status(facts: BookingFacts, method: CalendarMethod) -> str:
    if method == CalendarMethod.CANCEL:
        return "CANCELLED"
    return "TENTATIVE" if facts.status == BookingStatus.PENDING else "CONFIRMED"


def _vevent(
    facts: BookingFacts,
    method: CalendarMethod,
    organizer: Party,
    attendee: Party,
    stamp: datetime,
) -> list[str]:
    zone = ZoneInfo(facts.customer_timezone)
    location = [f"LOCATION:{escape_text(facts.location)}"] if facts.location else []
    return [
        "BEGIN:VEVENT",
        f"UID:{escape_text(facts.uid)}",
        f"SEQUENCE:{facts.sequence}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        _time("DTSTART", facts.start, zone),
        _time("DTEND", facts.end, zone),
        f"SUMMARY:{escape_text(f'{facts.service} at {facts.merchant_name}')}",
        *location,
        f"STATUS:{_status(facts, method)}",
        "TRANSP:OPAQUE",
        f"ORGANIZER;CN={_param(organizer.name)}:mailto:{organizer.address}",
        f"ATTENDEE;CN={_param(attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
        f"RSVP=FALSE:mailto:{attendee.address}",
        "END:VEVENT",
    ]


def _param(value: str) -> str:
    # a quoted parameter value may hold neither DQUOTE nor control characters
    return '"' + one_line(value).replace('"', "'") + '"'


def _time(name: str, instant: datetime, zone: ZoneInfo) -> str:
    """`instant` as wall time in `zone`, or in UTC where the wall time is ambiguous.

    In the hour repeated when DST ends, a TZID wall time means its first
    occurrence (RFC 5545 3.3.5), so an instant in the second one is written in UTC.
    """
    local = wall_time(instant, zone)
    if local is None:
        return f"{name}:{utc_stamp(instant)}"
    return f"{name};TZID={zone.key}:{local:%Y%m%dT%H%M%S}"

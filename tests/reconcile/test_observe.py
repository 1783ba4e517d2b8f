"""Reading objects for the change feed: only what it reads is parsed, and nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ChangeWindow, RemoteRef
from connectors.caldav.ical import events_of, read_calendar
from connectors.caldav.observe import CalendarObject, essentials, observe, read_object

REF = RemoteRef("/alice/work/x.ics", '"1"')
WINDOW = ChangeWindow(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
WINDOWS_ZONE = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""
BERLIN_ZONE = WINDOWS_ZONE.replace("W. Europe Standard Time", "Europe/Berlin")


def vcalendar(*parts: str) -> str:
    text = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//EN\n" + "".join(parts) + "END:VCALENDAR\n"
    return text.replace("\n", "\r\n")


SERIES = vcalendar(BERLIN_ZONE, """BEGIN:VEVENT
UID:series-with-a-very-long-identifier-that-a-client-folds-over-two-lines-0123456789
 -abcdef
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20261015T090000
DTEND;TZID=Europe/Berlin:20261015T091500
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20261029T090000
DESCRIPTION:Weekly\\, with notes
ATTENDEE;CN=Bob:mailto:bob@example.com
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Reminder
END:VALARM
END:VEVENT
""", """BEGIN:VEVENT
UID:series-with-a-very-long-identifier-that-a-client-folds-over-two-lines-0123456789
 -abcdef
RECURRENCE-ID;TZID=Europe/Berlin:20261022T090000
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20261022T110000
DTEND;TZID=Europe/Berlin:20261022T111500
TRANSP:TRANSPARENT
END:VEVENT
""")
OUTLOOK = vcalendar(WINDOWS_ZONE, """BEGIN:VEVENT
UID:outlook-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=W. Europe Standard Time:20261102T090000
DTEND;TZID=W. Europe Standard Time:20261102T100000
STATUS:CONFIRMED
END:VEVENT
""")
ALL_DAY = vcalendar("""BEGIN:VEVENT
UID:day-off
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261105
DURATION:P2D
X-SYNCD-BOOKING;VALUE=TEXT:syncd-abc
END:VEVENT
BEGIN:VTODO
UID:a-task
SUMMARY:not an event
END:VTODO
""")


def full_read(data: str) -> CalendarObject:
    calendar = read_calendar(data, REF.remote_id)
    events = events_of(calendar, REF.remote_id)
    events.sort(key=lambda e: e.is_override)
    return CalendarObject(REF, calendar, events)


@pytest.mark.parametrize("data", [SERIES, OUTLOOK, ALL_DAY], ids=["series", "outlook", "all-day"])
def test_what_the_feed_reads_is_what_a_full_parse_reads(data: str) -> None:
    slim = read_object(REF, data)
    assert slim is not None
    assert observe(slim, WINDOW, UTC) == observe(full_read(data), WINDOW, UTC)


def test_the_unread_parts_are_left_out() -> None:
    slim = essentials(SERIES)
    for gone in ("DESCRIPTION", "ATTENDEE", "VALARM", "DTSTAMP", "VTIMEZONE"):
        assert gone not in slim
    assert "W. Europe Standard Time" in essentials(OUTLOOK), "a zone zoneinfo lacks is kept"
    assert "VTODO" not in essentials(ALL_DAY)


def test_the_series_is_expanded_with_its_exceptions() -> None:
    slim = read_object(REF, SERIES)
    assert slim is not None
    event = observe(slim, WINDOW, UTC)
    assert event.uid is not None
    assert event.uid.endswith("-abcdef")
    assert event.recurring
    # 6 weekly from 15 Oct: 22 Oct is transparent, 29 Oct excluded
    assert [i.start.date().isoformat() for i in event.intervals] == [
        "2026-10-15", "2026-11-05", "2026-11-12", "2026-11-19",
    ]
    assert event.intervals[-1].end - event.intervals[-1].start == timedelta(minutes=15)

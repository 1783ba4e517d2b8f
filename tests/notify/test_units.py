"""Pieces of a message on their own: times, header text, the invitation at a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from syncd.notify.calendar import Party, invitation
from syncd.notify.facts import BookingFacts
from syncd.notify.kinds import CalendarMethod
from syncd.notify.mime import one_line
from syncd.notify.times import format_span

DASH = "\N{EN DASH}"


def facts(start: datetime, minutes: int = 30) -> BookingFacts:
    return BookingFacts(
        merchant_key="salon", merchant_name="Salon One", contact_text="", booking_page_url=None,
        reply_to=None, booking_key="b1", uid="syncd-1", sequence=3, status="confirmed",
        start=start, end=start + timedelta(minutes=minutes), service="Haircut", location="",
        staff="Alice", customer_name="Jane", customer_email="jane@example.com",
        customer_phone=None, customer_timezone="Europe/Berlin", notes="", paid=False,
    )


def test_spans_name_the_zone_and_cross_midnight() -> None:
    start = datetime(2030, 7, 1, 21, 30, tzinfo=UTC)
    assert format_span(start, start + timedelta(minutes=30), "Europe/Berlin") == (
        f"Monday, 1 July 2030, 23:30 {DASH} Tuesday, 2 July 2030, 00:00 CEST (Europe/Berlin)"
    )
    assert format_span(start, start + timedelta(hours=1), "UTC") == (
        f"Monday, 1 July 2030, 21:30{DASH}22:30 (UTC)"
    )
    assert format_span(start, start + timedelta(hours=1), "Asia/Kolkata").endswith(
        "IST (Asia/Kolkata)"
    )


def test_header_text_is_one_line() -> None:
    assert one_line("Jane\r\nBcc: x@y\u2028z\x00\tw") == "Jane Bcc: x@y z w"
    assert len(one_line("x" * 1000)) == 200


def test_the_repeated_hour_at_the_end_of_dst_is_the_right_instant() -> None:
    second_two_thirty = datetime(2030, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET, after 02:30 CEST
    ics = invitation(
        facts(second_two_thirty), CalendarMethod.REQUEST, Party("Salon", "b@salon.example"),
        Party("Jane", "jane@example.com"), stamp=datetime(2030, 1, 1, tzinfo=UTC),
    )
    event = icalendar.Calendar.from_ical(ics).events[0]
    assert event.decoded("DTSTART") == second_two_thirty
    assert event.decoded("DTEND") == second_two_thirty + timedelta(minutes=30)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert "METHOD:REQUEST\r\n" in ics
    assert "SEQUENCE:3\r\n" in ics


def test_facts_survive_the_trip_through_json() -> None:
    original = facts(datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
    assert BookingFacts.from_json(original.to_json()) == original

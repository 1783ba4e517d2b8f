"""Content lines written by hand read back exactly, through icalendar, whatever the text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import EventSpec, EventStatus
from connectors.caldav.ical import event_to_ical
from connectors.icaltext import clean_text
from connectors.icalwrite import MAX_OCTETS, escape_text, fold

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from("\\;,:\"\n\r\u2028\x85N"),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_a_folded_text_line_reads_back_as_the_cleaned_text(value: str) -> None:
    line = fold(f"SUMMARY:{escape_text(value)}")
    physical = line.removesuffix("\r\n").split("\r\n")
    assert all(len(piece.encode()) <= MAX_OCTETS for piece in physical)
    assert all(piece.startswith(" ") for piece in physical[1:])
    assert all(not _ends_in_open_escape(piece) for piece in physical[:-1])
    event = icalendar.Event.from_ical(f"BEGIN:VEVENT\r\n{line}END:VEVENT\r\n")
    assert str(event["SUMMARY"]) == clean_text(value).replace("\r\n", "\n")


def _ends_in_open_escape(piece: str) -> bool:
    run = len(piece) - len(piece.rstrip("\\"))
    return run % 2 == 1


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, TEXT, st.sampled_from(["Europe/Berlin", "America/New_York", "UTC"]),
       st.integers(min_value=0, max_value=60_000))
def test_a_booking_event_reads_back_as_what_was_asked(
    summary: str, description: str, location: str, zone: str, quarter_hours: int
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * quarter_hours)
    spec = EventSpec("syncd-1", summary, start, start + timedelta(hours=1), zone, 4,
                     EventStatus.TENTATIVE, description, location)
    event = icalendar.Calendar.from_ical(event_to_ical(spec)).walk("VEVENT")[0]
    assert event["DTSTART"].dt == start
    assert event["DTEND"].dt == start + timedelta(hours=1)
    for name, asked in (("SUMMARY", summary), ("DESCRIPTION", description),
                        ("LOCATION", location)):
        expected = clean_text(asked).replace("\r\n", "\n")
        assert str(event.get(name, "")) == expected
    assert (str(event["UID"]), str(event["X-SYNCD-BOOKING"])) == ("syncd-1", "syncd-1")
    assert (event["SEQUENCE"], str(event["STATUS"])) == (4, "TENTATIVE")

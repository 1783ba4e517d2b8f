"""How an unreadable event is named to the merchant: its UID and summary made out of data
the parsers refused, then shown as one short line without control characters."""

from __future__ import annotations

from connectors.caldav.observe import names_of
from syncd.reconcile.unreadable import MAX_SUMMARY, shown


def test_uid_and_summary_are_made_out_of_data_the_parsers_refuse() -> None:
    data = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc-\r\n 123\r\n"
            'SUMMARY;ALTREP="http://x.example/a:b":Lunch\\, then\\ngym\r\n'
            "DTSTART:yesterday\r\nSUMMARY:second\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert names_of(data) == ("abc-123", "Lunch, then\ngym")


def test_an_object_without_names_has_none() -> None:
    assert names_of("BEGIN:VCALENDAR\r\ngarbage\r\n") == (None, None)


def test_a_summary_is_shown_as_one_short_line_without_control_characters() -> None:
    hostile = "Gym\x07 every\u2028second\x1b[31m \u202eevil"
    assert shown(hostile, 200) == "Gym every second [31m evil"
    long = shown("x" * 500, MAX_SUMMARY)
    assert long is not None
    assert len(long) == MAX_SUMMARY
    assert long.endswith("…")
    assert shown("  \x00 ", 10) is None
    assert shown(None, 10) is None

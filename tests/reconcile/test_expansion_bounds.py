"""Which series are expanded and which are set apart, judged from their rules alone
(connectors/caldav/expansion.py): what staff really keep passes, what would stall fails."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from connectors.base import ChangeWindow, RemoteRef
from connectors.caldav.observe import observe, read_object
from syncd.errors import PermanentError

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
WINDOW = ChangeWindow(NOW - timedelta(days=1), NOW + timedelta(days=97))
REF = RemoteRef("/alice/work/series.ics", '"1"')


def series(rule: str, start: str = "20261201T090000Z") -> str:
    end = start[:-5] + "1000Z"  # ten minutes later for a start at a whole hour
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:s\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
            f"RRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def expand(text: str) -> int:
    obj = read_object(REF, text)
    assert obj is not None
    return len(observe(obj, WINDOW, UTC).intervals)


@pytest.mark.parametrize(("rule", "start"), [
    ("FREQ=HOURLY", "20261201T090000Z"),
    ("FREQ=MINUTELY;INTERVAL=30", "20261201T090000Z"),
    ("FREQ=DAILY", "18000101T090000Z"),
    ("FREQ=YEARLY", "00010101T090000Z"),  # a birthday "since forever"
    ("FREQ=MINUTELY;COUNT=50", "20261207T090000Z"),
    ("FREQ=SECONDLY;UNTIL=20261207T093000Z", "20261207T090000Z"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "20200106T090000Z"),
])
def test_series_staff_keep_are_expanded(rule: str, start: str) -> None:
    assert expand(series(rule, start)) > 0


@pytest.mark.parametrize(("rule", "start"), [
    ("FREQ=SECONDLY", "20261206T090000Z"),
    ("FREQ=MINUTELY", "20261206T090000Z"),
    ("FREQ=MINUTELY;INTERVAL=5", "20261206T090000Z"),
    ("FREQ=SECONDLY", "20200101T090000Z"),
    ("FREQ=DAILY", "00010101T090000Z"),
    ("FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=0,10,20,30,40,50",
     "20261201T090000Z"),
    ("FREQ=SECONDLY;COUNT=10;BYMONTH=2", "20261201T090000Z"),
])
def test_series_that_would_stall_are_set_apart_at_once(rule: str, start: str) -> None:
    began = time.perf_counter()
    with pytest.raises(PermanentError, match="recurs too often"):
        expand(series(rule, start))
    assert time.perf_counter() - began < 1.0


@pytest.mark.parametrize("rule", ["FREQ=FORTNIGHTLY", "FREQ=DAILY;INTERVAL=x",
                                  "FREQ=DAILY;BYDAY=XX", "FREQ=DAILY;UNTIL=notadate"])
def test_a_broken_rule_is_unreadable_not_an_exception(rule: str) -> None:
    with pytest.raises(PermanentError):
        expand(series(rule))


def test_the_reader_splits_lines_only_at_line_feeds() -> None:
    forged = "SUMMARY:Eve\u2028DTSTART:20300101T000000Z\u2029RRULE:FREQ=SECONDLY\r\n"
    text = series("FREQ=WEEKLY;COUNT=2").replace("UID:s\r\n", "UID:s\r\n" + forged)
    obj = read_object(REF, text)
    assert obj is not None
    assert obj.master.start == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert len(icalendar.Calendar.from_ical(text).events) == 1
    assert expand(text) == 1

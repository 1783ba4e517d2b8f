"""Days and times as people read them, in English whatever the server's locale: the
manage pages and the mail show them alike (strftime's %A and %B would follow the locale)."""

from __future__ import annotations

from datetime import date, datetime

DASH = "\N{EN DASH}"
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def long_day(value: date | datetime) -> str:
    """E.g. "Tuesday, 4 March 2030"."""
    weekday, month = WEEKDAY_NAMES[value.weekday()], MONTH_NAMES[value.month - 1]
    return f"{weekday}, {value.day} {month} {value.year}"


def short_day(value: date) -> str:
    """E.g. "Tue 4 Mar"."""
    return f"{WEEKDAY_NAMES[value.weekday()][:3]} {value.day} {MONTH_NAMES[value.month - 1][:3]}"


def clock(value: datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def time_span(start: datetime, end: datetime) -> str:
    """E.g. "Tuesday, 4 March 2030, 10:00-10:30", with an en dash; both ends in one zone."""
    if start.date() == end.date():
        return f"{long_day(start)}, {clock(start)}{DASH}{clock(end)}"
    return f"{long_day(start)}, {clock(start)} {DASH} {long_day(end)}, {clock(end)}"

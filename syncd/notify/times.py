"""Times as a recipient reads them: in their own time zone, with the zone named."""

from __future__ import annotations

from datetime import datetime

from syncd.timeutil import zone

DASH = "\N{EN DASH}"


def _day(moment: datetime) -> str:
    return f"{moment:%A}, {moment.day} {moment:%B %Y}"


def _zone_label(moment: datetime, zone_name: str) -> str:
    abbreviation = moment.tzname() or ""
    if not abbreviation or abbreviation.startswith(("+", "-")) or abbreviation == zone_name:
        return f"({zone_name})"
    return f"{abbreviation} ({zone_name})"


def format_span(start: datetime, end: datetime, zone_name: str) -> str:
    """E.g. "Tuesday, 1 December 2026, 10:00-10:30 CET (Europe/Berlin)", with an en dash."""
    local_start, local_end = start.astimezone(zone(zone_name)), end.astimezone(zone(zone_name))
    if local_start.date() == local_end.date():
        span = f"{_day(local_start)}, {local_start:%H:%M}{DASH}{local_end:%H:%M}"
    else:
        finish = f"{_day(local_end)}, {local_end:%H:%M}"
        span = f"{_day(local_start)}, {local_start:%H:%M} {DASH} {finish}"
    return f"{span} {_zone_label(local_start, zone_name)}"

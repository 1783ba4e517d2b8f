"""Times as a recipient reads them: in their own time zone, with the zone named."""

from __future__ import annotations

from datetime import datetime

from syncd.timetext import time_span
from syncd.timeutil import zone


def _zone_label(moment: datetime, zone_name: str) -> str:
    abbreviation = moment.tzname() or ""
    if not abbreviation or abbreviation.startswith(("+", "-")) or abbreviation == zone_name:
        return f"({zone_name})"
    return f"{abbreviation} ({zone_name})"


def format_span(start: datetime, end: datetime, zone_name: str) -> str:
    """E.g. "Tuesday, 1 December 2026, 10:00-10:30 CET (Europe/Berlin)", with an en dash."""
    local_start, local_end = start.astimezone(zone(zone_name)), end.astimezone(zone(zone_name))
    return f"{time_span(local_start, local_end)} {_zone_label(local_start, zone_name)}"

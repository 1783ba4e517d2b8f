"""Instants written as wall times in a zone, as iCalendar and Graph read them back.

A wall time in the hour repeated when DST ends names two instants, and RFC 5545
3.3.5 reads it as the first; one in the hour skipped when DST starts names none.
Where a wall time cannot say an instant, writers fall back to UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar


def is_ambiguous(local: datetime) -> bool:
    """Whether the wall time `local` names two instants (or none) in its zone."""
    first, second = (local.replace(fold=fold).astimezone(UTC) for fold in (0, 1))
    return first != second


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime | None:
    """`instant` as wall time in `zone`; None in the second pass through a repeated hour,
    whose wall times read back as the first pass."""
    local = instant.astimezone(zone)
    return None if local.fold and is_ambiguous(local) else local


@lru_cache(maxsize=256)
def vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of `tzid` for the years from `first_year` to `last_year`.

    Only the years an event touches: the default range (1970-2038) makes every
    object a few kilobytes larger. Cached serialized: it is the same on every write.
    """
    timezone = icalendar.Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
    return bytes(timezone.to_ical())

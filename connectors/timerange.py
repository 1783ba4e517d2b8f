"""The times syncd accepts (bookings) and reads (foreign events): far enough from both
ends of `datetime` that a time zone or a booking's length cannot overflow it."""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def in_sane_range(start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies within [EARLIEST, LATEST)."""
    return start >= EARLIEST and end <= LATEST

"""The Retry-After header (RFC 9110 10.2.3), as the connectors and the webhook sender read it."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: seconds (maybe fractional, as Graph sends
    them) or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": a time in UTC from an unknown zone
        moment = moment.replace(tzinfo=UTC)
    return max((moment - now).total_seconds(), 0.0)

"""Time helpers: syncd computes in aware UTC and converts only at the edges."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is taken to be UTC already (as SQLite returns it)."""
    if value.tzinfo is None:
        if type(value) is datetime:
            # what value.replace(tzinfo=UTC) makes, fold included, in a third of its time
            # (Python 3.11's replace parses its arguments twice); every stored time read
            # from SQLite comes through here, two for each manage page
            return datetime.combine(value.date(), value.time(), UTC)
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def is_timezone(name: str) -> bool:
    return name in _zone_names()


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with its offset, as the API, webhooks and the CLI write times."""
    return as_utc(value).isoformat()


def utc_iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else utc_iso(value)

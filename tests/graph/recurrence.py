"""patternedRecurrence: validate it on input and expand a series into occurrences.

Occurrences repeat the series master's wall-clock start time in its start time zone
(so a 09:00 Europe/Berlin series stays at 09:00 across DST changes), like Outlook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil import rrule  # type: ignore[import-untyped]

from tests.graph.errors import GraphError
from tests.graph.store import Event
from tests.graph.timezones import resolve_zone

_FREQ = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absolutemonthly": rrule.MONTHLY,
    "relativemonthly": rrule.MONTHLY,
    "absoluteyearly": rrule.YEARLY,
    "relativeyearly": rrule.YEARLY,
}
_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_RANGES = {"enddate", "noend", "numbered"}


@dataclass(frozen=True)
class Occurrence:
    id: str
    start: datetime  # aware UTC
    end: datetime
    original_start: datetime


def occurrence_id(master_id: str, original_start: datetime) -> str:
    return f"{master_id}.{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def split_occurrence_id(item_id: str) -> tuple[str, datetime] | None:
    master_id, dot, stamp = item_id.rpartition(".")
    if not dot:
        return None
    try:
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return master_id, moment


def _invalid() -> GraphError:
    return GraphError(
        400, "ErrorPropertyValidationFailure", "At least one property failed validation."
    )


def validate(recurrence: Any) -> dict[str, Any] | None:
    """The recurrence as given, or 400 when Outlook could not expand it."""
    if recurrence is None:
        return None
    if not isinstance(recurrence, dict):
        raise _invalid()
    pattern, range_ = recurrence.get("pattern"), recurrence.get("range")
    if not isinstance(pattern, dict) or not isinstance(range_, dict):
        raise _invalid()
    _rule_arguments(pattern)
    kind = str(range_.get("type", "")).lower()
    if kind not in _RANGES or _date(range_.get("startDate")) is None:
        raise _invalid()
    if kind == "enddate" and _date(range_.get("endDate")) is None:
        raise _invalid()
    if kind == "numbered" and not _positive(range_.get("numberOfOccurrences")):
        raise _invalid()
    return recurrence


def _positive(value: Any) -> bool:
    return isinstance(value, int) and value > 0


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _rule_arguments(pattern: dict[str, Any]) -> dict[str, Any]:
    kind = str(pattern.get("type", "")).lower()
    interval = pattern.get("interval", 1)
    if kind not in _FREQ or not _positive(interval):
        raise _invalid()
    arguments: dict[str, Any] = {"freq": _FREQ[kind], "interval": interval}
    days = [_DAYS.get(str(d).lower()) for d in pattern.get("daysOfWeek") or []]
    if None in days or (kind in {"weekly", "relativemonthly", "relativeyearly"} and not days):
        raise _invalid()
    if kind.startswith("relative"):
        index = _INDEX.get(str(pattern.get("index", "first")).lower())
        if index is None:
            raise _invalid()
        arguments["byweekday"] = [d(index) for d in days]  # type: ignore[misc]
    elif days:
        arguments["byweekday"] = days
    if kind.startswith("absolute"):
        arguments["bymonthday"] = pattern.get("dayOfMonth")
    if kind.endswith("yearly"):
        arguments["bymonth"] = pattern.get("month")
    first_day = _DAYS.get(str(pattern.get("firstDayOfWeek", "sunday")).lower())
    arguments["wkst"] = first_day or rrule.SU
    return arguments


def expand(master: Event, window_start: datetime, window_end: datetime) -> list[Occurrence]:
    """Occurrences of the series `master` overlapping [window_start, window_end)."""
    assert master.recurrence is not None
    zone = resolve_zone(master.start_zone)
    local_start = master.start.astimezone(zone)
    duration = master.end - master.start
    range_ = master.recurrence["range"]
    first_date = _date(range_["startDate"]) or local_start.date()
    dtstart = datetime.combine(first_date, local_start.time().replace(tzinfo=None))
    arguments = _rule_arguments(master.recurrence["pattern"])
    kind = range_["type"].lower()
    if kind == "numbered":
        arguments["count"] = range_["numberOfOccurrences"]
    elif kind == "enddate":
        arguments["until"] = datetime.combine(
            _date(range_["endDate"]) or first_date, datetime.max.time()
        )
    horizon = window_end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    found = []
    for naive in rrule.rrule(dtstart=dtstart, **arguments):
        if naive > horizon:
            break
        start = naive.replace(tzinfo=zone).astimezone(UTC)
        if naive.date() in master.deleted_occurrences:
            continue
        if start < window_end and start + duration > window_start:
            found.append(
                Occurrence(occurrence_id(master.id, start), start, start + duration, start)
            )
    return found

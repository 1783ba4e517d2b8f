"""dateTimeTimeZone values: Graph's ``{"dateTime": "...", "timeZone": "..."}``.

Graph accepts Windows zone names ("W. Europe Standard Time"), "UTC", and the fixed
list of IANA names its dateTimeTimeZone page documents (DOCUMENTED_IANA); any other
name, even one Python knows ("Europe/Vienna"), is 400 TimeZoneNotSupportedException,
as tenants report for names outside that list.
It answers in UTC unless ``Prefer: outlook.timezone="..."`` names another zone,
with seven fractional digits ("2019-03-15T12:00:00.0000000").
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.graph.errors import GraphError

_IANA = available_timezones()
#: api-reference/v1.0/resources/datetimetimezone.md, as listed there ("Europe/Kyiv
#: (Kiev)" and the like give both spellings).
DOCUMENTED_IANA = frozenset((
    "Etc/GMT+12", "Etc/GMT+11", "Pacific/Honolulu", "America/Anchorage", "America/Santa_Isabel",
    "America/Los_Angeles", "America/Phoenix", "America/Chihuahua", "America/Denver",
    "America/Guatemala", "America/Chicago", "America/Mexico_City", "America/Regina",
    "America/Bogota", "America/New_York", "America/Indiana/Indianapolis", "America/Caracas",
    "America/Asuncion", "America/Halifax", "America/Cuiaba", "America/La_Paz", "America/Santiago",
    "America/St_Johns", "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Cayenne",
    "America/Godthab", "America/Montevideo", "America/Bahia", "Etc/GMT+2", "Atlantic/Azores",
    "Atlantic/Cape_Verde", "Africa/Casablanca", "Etc/GMT", "Europe/London", "Atlantic/Reykjavik",
    "Europe/Berlin", "Europe/Budapest", "Europe/Paris", "Europe/Warsaw", "Africa/Lagos",
    "Africa/Windhoek", "Europe/Bucharest", "Asia/Beirut", "Africa/Cairo", "Asia/Damascus",
    "Africa/Johannesburg", "Europe/Kyiv", "Europe/Kiev", "Europe/Istanbul", "Asia/Jerusalem",
    "Asia/Amman", "Asia/Baghdad", "Europe/Kaliningrad", "Asia/Riyadh", "Africa/Nairobi",
    "Asia/Tehran", "Asia/Dubai", "Asia/Baku", "Europe/Moscow", "Indian/Mauritius", "Asia/Tbilisi",
    "Asia/Yerevan", "Asia/Kabul", "Asia/Karachi", "Asia/Tashkent", "Asia/Kolkata", "Asia/Colombo",
    "Asia/Kathmandu", "Asia/Almaty", "Asia/Dhaka", "Asia/Yekaterinburg", "Asia/Yangon",
    "Asia/Rangoon", "Asia/Bangkok", "Asia/Novosibirsk", "Asia/Shanghai", "Asia/Krasnoyarsk",
    "Asia/Singapore", "Australia/Perth", "Asia/Taipei", "Asia/Ulaanbaatar", "Asia/Irkutsk",
    "Asia/Tokyo", "Asia/Seoul", "Australia/Adelaide", "Australia/Darwin", "Australia/Brisbane",
    "Australia/Sydney", "Pacific/Port_Moresby", "Australia/Hobart", "Asia/Yakutsk",
    "Pacific/Guadalcanal", "Asia/Vladivostok", "Pacific/Auckland", "Etc/GMT-12", "Pacific/Fiji",
    "Asia/Magadan", "Pacific/Tongatapu", "Pacific/Apia", "Pacific/Kiritimati",
))


def resolve_zone(name: object) -> tzinfo:
    """The zone a Graph time zone name stands for, or 400 TimeZoneNotSupportedException."""
    if isinstance(name, str):
        if name.upper() in {"UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"}:
            return UTC
        iana = WINDOWS_TO_OLSON.get(name) or (name if name in DOCUMENTED_IANA else "")
        if iana in _IANA:
            try:
                return ZoneInfo(iana)
            except ZoneInfoNotFoundError:
                pass
    raise GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. "
        f"The following TimeZone value is not supported: '{name}'.",
    )


def parse_wall_time(value: object, field: str) -> datetime:
    """The naive wall-clock time of a dateTime string.

    Graph's dateTime is a local time in the companion timeZone. When a client adds an
    offset anyway ("...Z", "+02:00") the double honours it by converting — the
    documentation is silent on this case.
    """
    if not isinstance(value, str):
        raise GraphError(400, "ErrorInvalidRequest", f"{field}.dateTime is required.")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidRequest", f"Cannot convert the literal '{value}' to a DateTime."
        ) from None


def to_utc(value: Any, field: str) -> tuple[datetime, str]:
    """An aware UTC datetime and the zone name from a dateTimeTimeZone object."""
    if not isinstance(value, dict):
        raise GraphError(
            400, "ErrorInvalidRequest", f"The {field} property must be a dateTimeTimeZone object."
        )
    zone_name = value.get("timeZone") or "UTC"
    zone = resolve_zone(zone_name)
    wall = parse_wall_time(value.get("dateTime"), field)
    local = wall.astimezone(zone) if wall.tzinfo else wall.replace(tzinfo=zone)
    return local.astimezone(UTC), str(zone_name)


def format_graph_time(moment: datetime) -> str:
    """Graph's dateTime text: no offset, seven fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def render(moment: datetime, zone_name: str | None) -> dict[str, str]:
    """A dateTimeTimeZone object for an aware moment, in `zone_name` (UTC by default)."""
    if zone_name is None:
        return {"dateTime": format_graph_time(moment.astimezone(UTC)), "timeZone": "UTC"}
    local = moment.astimezone(resolve_zone(zone_name))
    return {"dateTime": format_graph_time(local), "timeZone": zone_name}


def timestamp(moment: datetime) -> str:
    """DateTimeOffset as Graph writes createdDateTime and friends (always UTC, "Z")."""
    return format_graph_time(moment.astimezone(UTC)) + "Z"


def parse_query_time(value: str | None, name: str) -> datetime:
    """startDateTime/endDateTime query values: ISO 8601, UTC when no offset is given."""
    if not value:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{value}' of parameter '{name}' is invalid."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""A booking's event as Graph JSON, and Graph's event JSON read back.

Every event syncd writes carries the booking key in a single-value extended
property (BOOKING_PROPERTY), which `$filter` can find after syncd's own state
is lost. Times are written as wall times in the staff member's zone, so Outlook
shows and edits them there; they are read back in UTC (the `Prefer` header
asks for that) because a wall time in the hour repeated when DST ends names two
instants.

The zone is sent by its Windows name: Graph documents Windows names and only a
fixed list of about 100 IANA ones (resources/datetimetimezone), and refuses
others. The name comes from CLDR's windowsZones table as tzlocal ships it; a
zone CLDR maps to no Windows zone is written in UTC.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from html import unescape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from tzlocal.windows_tz import tz_win

from connectors.base import BusyInterval, EventSpec, EventStatus, RemoteEvent, RemoteRef
from connectors.errors import PermanentError
from connectors.wallclock import wall_time

# Fixed for good: events written by any syncd carry this property set.
PROPERTY_SET = "74c96144-1a1f-4b22-b4e4-30f453d36fb4"
BOOKING_PROPERTY = f"String {{{PROPERTY_SET}}} Name syncdBookingKey"
_TRANSACTION_NAMESPACE = uuid.UUID(PROPERTY_SET)

#: Every request: answers in UTC with plain-text bodies, ids that survive folder moves.
PREFER = 'outlook.timezone="UTC", outlook.body-content-type="text", IdType="ImmutableId"'
#: What reads select: enough to rebuild a RemoteEvent and compare with an EventSpec.
SELECT = "subject,body,location,start,end,showAs,isCancelled"
EXPAND = f"singleValueExtendedProperties($filter=id eq '{BOOKING_PROPERTY}')"
_NOT_BUSY = frozenset({"free", "workingelsewhere"})
_SHOW_AS = {EventStatus.CONFIRMED: "busy", EventStatus.TENTATIVE: "tentative"}


@dataclass(frozen=True)
class Reminder:
    enabled: bool
    minutes: int


def transaction_id(calendar_id: str, booking_key: str, generation: int = 0) -> str:
    """The create's de-duplication key: one per create lineage of a booking on a calendar.

    Graph documents transactionId only as avoiding redundant POSTs on client
    retries: a retry must repeat it, and nothing says what it does once its
    event was deleted. Keyed on the booking (not its sequence), a create retried
    after the booking changed still finds the first event; on the calendar too,
    a booking shown on two calendars of one mailbox gets an event on each; on
    the lineage (EventSpec.generation), re-creating an event deleted by hand is
    a new transaction. Lineage 0 keeps the key syncd always used.
    """
    lineage = f"\n{generation}" if generation else ""
    name = f"{calendar_id}\n{booking_key}{lineage}"
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, name))


def event_body(event: EventSpec, reminder: Reminder) -> dict[str, Any]:
    """The writable properties syncd sets; a PATCH with them replaces all it wrote."""
    zone = _zone(event.timezone)
    windows = windows_zone(event.timezone)
    return {
        "subject": event.summary,
        "body": {"contentType": "text", "content": event.description},
        "location": {"displayName": event.location},
        "start": _graph_time(event.start, zone, windows),
        "end": _graph_time(event.end, zone, windows),
        "showAs": _SHOW_AS[event.status],
        "isReminderOn": reminder.enabled,
        "reminderMinutesBeforeStart": reminder.minutes,
        "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY, "value": event.booking_key}],
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PermanentError(f"unknown time zone {name!r}") from None


def windows_zone(iana_name: str) -> str | None:
    """The Windows zone CLDR maps `iana_name` to, or None when it maps to none."""
    return tz_win.get(iana_name)


def _graph_time(instant: datetime, zone: ZoneInfo, zone_name: str | None) -> dict[str, str]:
    """`instant` as wall time in the zone, or in UTC where Graph would not know the zone
    or the wall time would be ambiguous."""
    local = wall_time(instant, zone)
    if zone_name is None or local is None:
        return {"dateTime": _wall(instant.astimezone(UTC)), "timeZone": "UTC"}
    return {"dateTime": _wall(local), "timeZone": zone_name}


def _wall(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def query_time(moment: datetime) -> str:
    """An instant as Graph takes it in a query (startDateTime, endDateTime) and a
    subscription (expirationDateTime): UTC to the second, with Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GraphEvent:
    """The parts of an event's JSON syncd reads."""

    ref: RemoteRef
    booking_key: str | None
    subject: str
    body: str
    location: str
    start: datetime
    end: datetime
    show_as: str
    cancelled: bool

    @property
    def busy(self) -> bool:
        return not self.cancelled and self.show_as not in _NOT_BUSY

    def remote_event(self) -> RemoteEvent:
        return RemoteEvent(
            self.ref, self.booking_key, self.subject, self.start, self.end, self.busy
        )

    def shows(self, event: EventSpec) -> bool:
        """Whether this event already shows `event` as syncd would write it.

        The booking tag is not compared: answers to writes do not carry it.
        """
        return (
            (self.subject, self.start, self.end) == (event.summary, event.start, event.end)
            and self.show_as == _SHOW_AS[event.status]
            and _same_text(self.body, event.description)
            and _same_text(self.location, event.location)
        )


def _same_text(stored: str, written: str) -> bool:
    # Exchange may store line ends as CRLF, trim trailing space, and answer a
    # write's body as HTML: compare the words.
    return stored.split() == written.split()


def event_ref(data: Any) -> RemoteRef:
    """Where an event from Graph's JSON lives, and its version; `PermanentError` without
    an id. All an update's answer is read for."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise PermanentError("Graph sent an event without an id")
    return RemoteRef(data["id"], _text(data.get("@odata.etag")) or None)


def parse_event(data: Any) -> GraphEvent:
    """An event from Graph's JSON; `PermanentError` if it lacks what syncd needs."""
    return GraphEvent(
        ref=event_ref(data),
        booking_key=booking_key_of(data),
        subject=_text(data.get("subject")),
        body=body_text(data.get("body")),
        location=_text((data.get("location") or {}).get("displayName")),
        start=parse_time(data.get("start")),
        end=parse_time(data.get("end")),
        show_as=_text(data.get("showAs")).lower() or "busy",
        cancelled=data.get("isCancelled") is True,
    )


def body_text(body: Any) -> str:
    """An itemBody's text: Graph answers writes as HTML whatever the Prefer header asks."""
    if not isinstance(body, dict):
        return ""
    content = _text(body.get("content"))
    if _text(body.get("contentType")).lower() != "html":
        return content
    words = _plain_html_words(content)
    if words is None:
        reader = _HtmlText()
        reader.feed(content)
        reader.close()
        words = reader.words
    return " ".join(words)


# HTML in the plain form Graph answers writes with, read in one pass of a regular
# expression at a fraction of HTMLParser's cost: text without "<", tags whose
# attribute values hold no "<", ">" or "/", and style or script elements with no
# "</" inside. Anything else is left to HTMLParser (_HtmlText), whose reading of
# this plain form the tests compare it with.
_PLAIN_TOKEN = re.compile(
    r"""(?P<text>[^<]*)(?:\Z|<(?:/(?P<end>[a-zA-Z][-a-zA-Z0-9:._]*)\s*|(?P<start>[a-zA-Z][-a-zA-Z0-9:._]*)"""
    r"""(?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`/]+))?)*"""
    r"""\s*(?P<closed>/)?)>)"""
)
_RAW_TEXT = frozenset({"script", "style"})  # HTMLParser's CDATA_CONTENT_ELEMENTS


def _plain_html_words(content: str) -> list[str] | None:
    """The words _HtmlText reads from `content`, or None when it is not in the plain form."""
    words: list[str] = []
    hidden, at, end = 0, 0, len(content)
    while at < end:
        token = _PLAIN_TOKEN.match(content, at)
        if token is None or token.end() == at:
            return None
        at = token.end()
        if not hidden:
            words += unescape(token["text"]).split()
        tag = (token["start"] or token["end"] or "").lower()
        if token["start"] and tag in _RAW_TEXT and not token["closed"]:
            closed_at = _raw_text_end(content, at, tag)
            if closed_at is None:
                return None
            at = closed_at  # its content is hidden: skipped
        elif token["start"]:
            hidden += tag in _HtmlText.HIDDEN
            hidden -= bool(token["closed"]) and tag in _HtmlText.HIDDEN and hidden > 0
        elif token["end"]:
            hidden -= tag in _HtmlText.HIDDEN and hidden > 0
    return words


def _raw_text_end(content: str, at: int, tag: str) -> int | None:
    """Past the end tag of a style or script element whose content starts at `at`."""
    close = content.find("</", at)
    found = _END_TAG.match(content, close) if close >= 0 else None
    return found.end() if found is not None and found[1].lower() == tag else None


_END_TAG = re.compile(r"</([a-zA-Z][-a-zA-Z0-9:._]*)\s*>")


class _HtmlText(HTMLParser):
    """The words of an HTML body, without its head, styles and scripts."""

    HIDDEN = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in self.HIDDEN and self._hidden > 0

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.words += data.split()


def booking_key_of(data: dict[str, Any]) -> str | None:
    properties = data.get("singleValueExtendedProperties") or []
    for prop in properties if isinstance(properties, list) else []:
        if isinstance(prop, dict) and _same_property(prop.get("id")):
            value = prop.get("value")
            return value if isinstance(value, str) else None
    return None


def _same_property(property_id: object) -> bool:
    # Graph may echo the id with its own casing of type and GUID; the name is exact.
    if not isinstance(property_id, str):
        return False
    kind, _, rest = property_id.partition(" ")
    return kind.lower() == "string" and rest.lower() == BOOKING_PROPERTY.partition(" ")[2].lower()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_time(value: Any) -> datetime:
    """An aware UTC instant from a dateTimeTimeZone object."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise PermanentError("Graph sent an event time without a dateTime")
    try:
        wall = datetime.fromisoformat(value["dateTime"])
    except ValueError:
        raise PermanentError(f"Graph sent an unreadable time {value['dateTime']!r}") from None
    if wall.tzinfo is None:
        wall = wall.replace(tzinfo=_graph_zone(value.get("timeZone")))
    return wall.astimezone(UTC)


def _graph_zone(name: object) -> tzinfo:
    if not isinstance(name, str) or name.upper() in {"UTC", "ETC/UTC", ""}:
        return UTC
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise PermanentError(f"Graph sent an unknown time zone {name!r}") from None


def busy_interval(data: Any) -> BusyInterval | None:
    """The busy time of one calendarView entry, or None if it leaves the time free."""
    event = parse_event(data)
    return BusyInterval(event.start, event.end) if event.busy else None

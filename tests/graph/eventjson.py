"""Event JSON in and out: validate request bodies, render events as Graph does.

Rendering follows the v1.0 event resource: every property present (null where unset),
times in UTC unless `Prefer: outlook.timezone`, `@odata.etag` = W/"changeKey", body as
HTML unless `Prefer: outlook.body-content-type="text"`, and singleValueExtendedProperties
only when $expand asks for them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.graph import extended, recurrence
from tests.graph.errors import GraphError
from tests.graph.odata import EVENT_PROPERTIES
from tests.graph.recurrence import Occurrence
from tests.graph.store import Event, Mailbox, new_item_id
from tests.graph.timezones import render as render_time
from tests.graph.timezones import timestamp, to_utc

READ_ONLY = {
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "iCalUId",
    "type",
    "webLink",
    "seriesMasterId",
    "onlineMeeting",
    "onlineMeetingUrl",
    "bodyPreview",
    "hasAttachments",
    "isOrganizer",
    "responseStatus",
    "originalStart",
    "organizer",
    "isCancelled",
}
_ENUMS = {
    "showAs": {"free", "tentative", "busy", "oof", "workingelsewhere", "unknown"},
    "importance": {"low", "normal", "high"},
    "sensitivity": {"normal", "personal", "private", "confidential"},
}
_DEFAULTS: dict[str, Any] = {
    "subject": "",
    "body": {"contentType": "text", "content": ""},
    "showAs": "busy",
    "importance": "normal",
    "sensitivity": "normal",
    "isAllDay": False,
    "isReminderOn": True,
    "reminderMinutesBeforeStart": 15,
    "categories": [],
    "attendees": [],
    "locations": [],
    "location": {"displayName": ""},
    "responseRequested": True,
    "allowNewTimeProposals": True,
    "isOnlineMeeting": False,
    "onlineMeetingProvider": "unknown",
    "hideAttendees": False,
    "isDraft": False,
}


@dataclass
class View:
    """How the client asked to see events (Prefer headers and query options)."""

    zone: str | None = None  # Prefer: outlook.timezone
    body_type: str | None = None  # Prefer: outlook.body-content-type
    select: set[str] | None = None
    expand: set[str] | None = None  # canonical extended-property ids, {"*"} = all


def _bad_body(message: str, code: str = "RequestBodyRead") -> GraphError:
    return GraphError(400, code, message)


def parse_changes(body: Any, *, creating: bool) -> dict[str, Any]:
    """Validated changes from a POST/PATCH body (read-only properties are ignored)."""
    if not isinstance(body, dict):
        raise _bad_body(
            "Unable to read JSON request payload. Please ensure Content-Type "
            "header is set and payload is of valid JSON format.",
            "BadRequest",
        )
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or name in READ_ONLY:
            continue
        if name not in EVENT_PROPERTIES:
            raise _bad_body(
                f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure "
                "to only use property names that are defined by the type or mark the type as "
                "open type."
            )
        changes[name] = _parse_value(name, value)
    if creating and ("start" not in changes or "end" not in changes):
        # The documentation is silent on the exact answer; Outlook needs both times.
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. An event needs both start and end.",
        )
    return changes


def _parse_value(name: str, value: Any) -> Any:
    if name in {"start", "end"}:
        return to_utc(value, name)
    if name == "recurrence":
        return recurrence.validate(value)
    if name == "singleValueExtendedProperties":
        return extended.parse_properties(value)
    if name in _ENUMS and (not isinstance(value, str) or value.lower() not in _ENUMS[name]):
        raise _bad_body(f"Requested value '{value}' was not found.")
    if name == "body":
        return _parse_body(value)
    if name == "transactionId" and value is not None and not isinstance(value, str):
        raise _bad_body("Cannot convert a primitive value to the expected type 'Edm.String'.")
    return value


def _parse_body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad_body("The body property must be an itemBody object.")
    content_type = str(value.get("contentType", "text")).lower()
    if content_type not in {"text", "html"}:
        raise _bad_body(f"Requested value '{value.get('contentType')}' was not found.")
    return {"contentType": content_type, "content": str(value.get("content") or "")}


def check_times(start: datetime, end: datetime) -> None:
    if end < start:
        # Exchange's code for this case (EWS ResponseCode); Graph passes it through.
        raise GraphError(
            400,
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "The end date occurs before the start date.",
        )


def new_event(calendar_id: str, changes: dict[str, Any]) -> Event:
    (start, start_zone), (end, end_zone) = changes["start"], changes["end"]
    check_times(start, end)
    event = Event(
        id=new_item_id(),
        calendar_id=calendar_id,
        start=start,
        start_zone=start_zone,
        end=end,
        end_zone=end_zone,
        fields={},
        extended={},
        transaction_id=changes.get("transactionId"),
        created=datetime.now(UTC),
    )
    apply_changes(event, changes)
    return event


def apply_changes(event: Event, changes: dict[str, Any]) -> None:
    start, start_zone = changes.get("start", (event.start, event.start_zone))
    end, end_zone = changes.get("end", (event.end, event.end_zone))
    check_times(start, end)
    event.start, event.start_zone, event.end, event.end_zone = start, start_zone, end, end_zone
    for name, value in changes.items():
        if name in {"start", "end", "transactionId"}:
            continue
        if name == "recurrence":
            event.recurrence = value
        elif name == "singleValueExtendedProperties":
            event.extended.update(value)
        elif name == "location":
            event.fields["location"] = value if isinstance(value, dict) else {"displayName": ""}
        else:
            event.fields[name] = value


def render_event(
    event: Event, mailbox: Mailbox, view: View, occurrence: Occurrence | None = None
) -> dict[str, Any]:
    full = _full_event(event, mailbox, view, occurrence)
    if view.expand is not None:
        wanted = None if "*" in view.expand else view.expand
        full["singleValueExtendedProperties"] = extended.render_properties(event.extended, wanted)
    if view.select is None:
        return full
    keep = view.select | {"id", "@odata.etag"}
    if view.expand is not None:
        keep.add("singleValueExtendedProperties")
    return {k: v for k, v in full.items() if k in keep}


def _full_event(
    event: Event, mailbox: Mailbox, view: View, occurrence: Occurrence | None
) -> dict[str, Any]:
    fields = {**_DEFAULTS, **event.fields}
    start, end = (occurrence.start, occurrence.end) if occurrence else (event.start, event.end)
    item_id = occurrence.id if occurrence else event.id
    kind = (
        "occurrence" if occurrence else ("seriesMaster" if event.recurrence else "singleInstance")
    )
    body = _render_body(fields["body"], view.body_type)
    return {
        "@odata.etag": event.etag,
        "id": item_id,
        "createdDateTime": timestamp(event.created),
        "lastModifiedDateTime": timestamp(event.modified),
        "changeKey": event.change_key,
        "categories": fields["categories"],
        "transactionId": event.transaction_id,
        "originalStartTimeZone": event.start_zone,
        "originalEndTimeZone": event.end_zone,
        "iCalUId": event.ical_uid + (f"{start:%Y%m%d}" if occurrence else ""),
        "reminderMinutesBeforeStart": fields["reminderMinutesBeforeStart"],
        "isReminderOn": fields["isReminderOn"],
        "hasAttachments": False,
        "subject": fields["subject"],
        "bodyPreview": _preview(fields["body"]),
        "importance": fields["importance"],
        "sensitivity": fields["sensitivity"],
        "isAllDay": fields["isAllDay"],
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": fields["responseRequested"],
        "seriesMasterId": event.id if occurrence else None,
        "showAs": fields["showAs"],
        "type": kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={item_id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": fields["isOnlineMeeting"],
        "onlineMeetingProvider": fields["onlineMeetingProvider"],
        "allowNewTimeProposals": fields["allowNewTimeProposals"],
        "isDraft": fields["isDraft"],
        "hideAttendees": fields["hideAttendees"],
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": body,
        "start": render_time(start, view.zone),
        "end": render_time(end, view.zone),
        "location": _render_location(fields["location"]),
        "locations": fields["locations"],
        "recurrence": None if occurrence else event.recurrence,
        "attendees": fields["attendees"],
        "organizer": {"emailAddress": {"name": mailbox.upn.split("@")[0], "address": mailbox.upn}},
        "onlineMeeting": None,
    }


def _render_location(location: dict[str, Any]) -> dict[str, Any]:
    return {
        "displayName": "",
        "locationType": "default",
        "uniqueIdType": "unknown",
        "address": {},
        "coordinates": {},
        **location,
    }


def _as_text(body: dict[str, str]) -> str:
    if body["contentType"] == "text":
        return body["content"]
    return html.unescape(re.sub(r"<[^>]+>", "", body["content"])).strip()


def _preview(body: dict[str, str]) -> str:
    return _as_text(body)[:255]


def _render_body(body: dict[str, str], wanted: str | None) -> dict[str, str]:
    if wanted == "text":
        return {"contentType": "text", "content": _as_text(body)}
    if body["contentType"] == "html":
        return dict(body)
    escaped = html.escape(body["content"]).replace("\n", "<br>\r\n")
    content = (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"\r\n</head>\r\n<body>\r\n{escaped}\r\n</body>\r\n</html>\r\n"
    )
    return {"contentType": "html", "content": content}

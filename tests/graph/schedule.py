"""POST /users/{id}/calendar/getSchedule: free/busy of up to 20 mailboxes.

Limits as documented (Get free/busy schedule of users and resources): at most 20
schedules (ErrorMailboxDataArrayTooBig; production Exchange has been seen to allow up
to 100, the double keeps the documented 20), a window of at most 62 days
(ErrorTimeIntervalTooBig, message as Exchange words it) and availabilityViewInterval
5..1440 minutes. Busy time comes from the default calendar; free items are left out;
availabilityView digits: 0 free, 1 tentative, 2 busy, 3 oof, 4 workingElsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.graph.calendarview import Instance, instances
from tests.graph.errors import GraphError, Reply, bad_request
from tests.graph.graph import Context, Route, route
from tests.graph.store import Mailbox
from tests.graph.timezones import render, to_utc

MAX_SCHEDULES = 20
MAX_DAYS = 62
_DIGIT = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingelsewhere": "4"}
_STRENGTH = (
    "03214"  # digits from weakest to strongest: free < workingElsewhere < tentative < busy < oof
)


@dataclass(frozen=True)
class ScheduleRequest:
    schedules: list[str]
    start: datetime
    end: datetime
    interval: int  # minutes per availabilityView digit
    zone: str | None  # Prefer: outlook.timezone


def _schedules(body: dict[str, Any]) -> list[str]:
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise GraphError(400, "ErrorInvalidParameter", "The schedules parameter is required.")
    if not all(isinstance(s, str) for s in schedules):
        raise GraphError(400, "ErrorInvalidParameter", "schedules must be SMTP addresses.")
    if len(schedules) > MAX_SCHEDULES:
        raise GraphError(
            400,
            "ErrorMailboxDataArrayTooBig",
            "There are too many target users in the EmailAddress array. "
            f"The allowed size = {MAX_SCHEDULES}; the actual size = {len(schedules)}.",
        )
    return schedules


def _interval(body: dict[str, Any]) -> int:
    interval = body.get("availabilityViewInterval", 30)
    if not isinstance(interval, int) or not 5 <= interval <= 1440:
        raise GraphError(
            400, "ErrorInvalidParameter", "availabilityViewInterval must be 5 to 1440 minutes."
        )
    return interval


def _window(body: dict[str, Any]) -> tuple[datetime, datetime]:
    start, _ = to_utc(body.get("startTime"), "startTime")
    end, _ = to_utc(body.get("endTime"), "endTime")
    if end <= start:
        raise GraphError(
            400, "ErrorInvalidTimeInterval", "The time interval is invalid: endTime <= startTime."
        )
    days = math.ceil((end - start) / timedelta(days=1))
    if days > MAX_DAYS:
        raise GraphError(
            400,
            "ErrorTimeIntervalTooBig",
            "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too "
            f"long. The allowed limit = {MAX_DAYS} days; the actual limit = {days} days.",
        )
    return start, end


def _request(context: Context) -> ScheduleRequest:
    body = context.call.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    schedules = _schedules(body)
    start, end = _window(body)
    zone = context.call.prefer.get("outlook.timezone") or None
    return ScheduleRequest(schedules, start, end, _interval(body), zone)


async def get_schedule(context: Context) -> Reply:
    request = _request(context)
    store = context.state.store
    with store.lock:
        value = [_information(a, store.find(a), request) for a in request.schedules]
    odata_context = (
        f"{context.state.graph_url}/$metadata#Collection(microsoft.graph.scheduleInformation)"
    )
    return Reply(200, {"@odata.context": odata_context, "value": value})


def _information(address: str, mailbox: Mailbox | None, request: ScheduleRequest) -> dict[str, Any]:
    if mailbox is None:
        return {
            "scheduleId": address,
            "availabilityView": "",
            "scheduleItems": [],
            "error": {
                "message": "The specified email address is not valid.",
                "responseCode": "ErrorMailRecipientNotFound",
            },
        }
    calendar = {mailbox.default_calendar.id}
    busy = [
        (e, o)
        for e, o in instances(mailbox, calendar, request.start, request.end)
        if _status(e) != "free"
    ]
    return {
        "scheduleId": address,
        "availabilityView": _availability(busy, request),
        "scheduleItems": [_item(e, o, request.zone) for e, o in busy],
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": mailbox.timezone},
        },
    }


def _status(event: Any) -> str:
    return str(event.fields.get("showAs", "busy")).lower()


def _item(event: Any, occurrence: Any, zone: str | None) -> dict[str, Any]:
    source = occurrence or event
    location = event.fields.get("location") or {}
    status = _status(event)
    return {
        "isPrivate": event.fields.get("sensitivity", "normal") != "normal",
        "status": "workingElsewhere" if status == "workingelsewhere" else status,
        "subject": event.fields.get("subject", ""),
        "location": location.get("displayName", "") if isinstance(location, dict) else "",
        "isMeeting": False,
        "isRecurring": occurrence is not None,
        "isException": False,
        "isReminderSet": bool(event.fields.get("isReminderOn", True)),
        "start": render(source.start, zone),
        "end": render(source.end, zone),
    }


def _availability(busy: list[Instance], request: ScheduleRequest) -> str:
    step = timedelta(minutes=request.interval)
    slots = math.ceil((request.end - request.start) / step)
    view = []
    for index in range(slots):
        slot_start = request.start + index * step
        slot_end = slot_start + step
        digits = [
            _DIGIT.get(_status(e), "2")
            for e, o in busy
            if (o or e).start < slot_end and (o or e).end > slot_start
        ]
        view.append(max(digits, key=_STRENGTH.index, default="0"))
    return "".join(view)


def routes() -> list[Route]:
    return [route("POST", "/users/{user}/calendar/getSchedule", get_schedule, "read")]

"""calendarView (instances in a time window, series expanded) and the calendars themselves.

/users/{id}/calendarView and /users/{id}/calendar/calendarView read the default
calendar, /users/{id}/calendars/{cid}/calendarView that calendar. An instance is in the
window when it starts before endDateTime and ends after startDateTime; instances come
ordered by start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.graph import recurrence
from tests.graph.errors import Reply, not_implemented
from tests.graph.eventjson import render_event
from tests.graph.events import calendar_of, resolver
from tests.graph.forms import check_collection_query
from tests.graph.graph import Context, Route, route
from tests.graph.odata import parse_filter, refuse_unmodelled_options
from tests.graph.paging import applied_preferences, collection
from tests.graph.recurrence import Occurrence
from tests.graph.store import Calendar, Event, Mailbox
from tests.graph.timezones import parse_query_time

Instance = tuple[Event, Occurrence | None]


def instances(
    mailbox: Mailbox, calendar_ids: set[str], start: datetime, end: datetime
) -> list[Instance]:
    """Single events and occurrences of series in `calendar_ids` overlapping [start, end)."""
    found: list[Instance] = []
    for event in mailbox.events.values():
        if event.calendar_id not in calendar_ids:
            continue
        if event.recurrence:
            found += [(event, o) for o in recurrence.expand(event, start, end)]
        elif event.start < end and event.end > start:
            found.append((event, None))
    return sorted(found, key=lambda i: ((i[1] or i[0]).start, (i[1] or i[0]).id))


def window(context: Context) -> tuple[datetime, datetime]:
    query = context.call.query
    start = parse_query_time(query.get("startdatetime"), "startDateTime")
    end = parse_query_time(query.get("enddatetime"), "endDateTime")
    return start, end


async def calendar_view(context: Context) -> Reply:
    start, end = window(context)
    query, view = context.call.query, context.view()
    refuse_unmodelled_options(query)
    check_collection_query(context, calendar_scoped=False)
    predicate = parse_filter(query["$filter"]) if "$filter" in query else None
    descending = _start_order(query.get("$orderby"))
    with context.state.store.lock:
        found = instances(context.user, {calendar_of(context).id}, start, end)
        if predicate is not None:
            found = [(e, o) for e, o in found if predicate(resolver(e, o))]
        if descending:
            found.reverse()
        items = [render_event(e, context.user, view, o) for e, o in found]
    odata_context = f"{context.state.graph_url}/$metadata#users('{context.user.upn}')/calendarView"
    return Reply(200, collection(context, items, odata_context), applied_preferences(context))


def _start_order(orderby: str | None) -> bool:
    """Whether $orderby asks for descending start; instances come sorted by start anyway."""
    if orderby is None:
        return False
    name, _, direction = orderby.strip().partition(" ")
    direction = direction.strip().lower()
    if name.lower() != "start/datetime" or direction not in {"", "asc", "desc"}:
        raise not_implemented(f"$orderby={orderby} on calendarView")
    return direction == "desc"


def render_calendar(calendar: Calendar, mailbox: Mailbox) -> dict[str, Any]:
    return {
        "id": calendar.id,
        "name": calendar.name,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": calendar.is_default,
        "changeKey": calendar.id[-12:],
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not calendar.is_default,
        "owner": {"name": mailbox.upn.split("@")[0], "address": mailbox.upn},
    }


async def get_calendar(context: Context) -> Reply:
    with context.state.store.lock:
        body = render_calendar(calendar_of(context), context.user)
    return Reply(200, body)


async def list_calendars(context: Context) -> Reply:
    with context.state.store.lock:
        items = [render_calendar(c, context.user) for c in context.user.calendars.values()]
    odata_context = f"{context.state.graph_url}/$metadata#users('{context.user.upn}')/calendars"
    return Reply(200, collection(context, items, odata_context))


def routes() -> list[Route]:
    return [
        route("GET", "/users/{user}/calendarView", calendar_view, "read"),
        route("GET", "/users/{user}/calendar/calendarView", calendar_view, "read"),
        route("GET", "/users/{user}/calendars/{calendar}/calendarView", calendar_view, "read"),
        route("GET", "/users/{user}/calendar", get_calendar, "read"),
        route("GET", "/users/{user}/calendars", list_calendars, "read"),
        route("GET", "/users/{user}/calendars/{calendar}", get_calendar, "read"),
    ]

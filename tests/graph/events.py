"""Events: create, read, list (with $filter), update and delete.

Paths (all under /users/{id | userPrincipalName}):
  /events[/{id}]                  every calendar of the mailbox
  /calendar/events[/{id}]         the default calendar
  /calendars/{cid}/events[/{id}]  one calendar
An item path names an event of that scope; an event of another calendar is 404 there
(the documentation is silent; ids are mailbox-wide in Exchange, the scope is not).
An event in Deleted Items (see store.py) is outside every calendar, yet the mailbox-wide
paths still read, list, update and delete it: the hazard a client must not rely on.

POST honours transactionId: a create repeating the transactionId of an existing event
of the mailbox answers 201 with that event instead of making another (Graph documents
the de-duplication, not the status; 201 is the double's choice). What a transactionId
of a deleted event does is undocumented; the double never answers with the deleted
event and refuses such a create (400), so a client must not reuse one. PATCH and DELETE
honour If-Match against @odata.etag (412 ErrorIrresolvableConflict).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from tests.graph import recurrence
from tests.graph.errors import GraphError, Reply, item_not_found, not_implemented
from tests.graph.eventjson import View, apply_changes, new_event, parse_changes, render_event
from tests.graph.forms import check_collection_query
from tests.graph.graph import Context, Route, route
from tests.graph.odata import parse_filter, refuse_unmodelled_options
from tests.graph.paging import applied_preferences, collection
from tests.graph.recurrence import Occurrence
from tests.graph.store import Calendar, Event
from tests.graph.timezones import format_graph_time, resolve_zone

_SCOPES = (
    "/users/{user}/events",
    "/users/{user}/calendar/events",
    "/users/{user}/calendars/{calendar}/events",
)
_ORDERABLE = {
    "start/datetime": lambda e: e.start,
    "end/datetime": lambda e: e.end,
    "createddatetime": lambda e: e.created,
    "lastmodifieddatetime": lambda e: e.modified,
    "subject": lambda e: str(e.fields.get("subject", "")).lower(),
}


def calendar_of(context: Context) -> Calendar:
    """The calendar a path names (/calendars/{cid}, else the default calendar)."""
    mailbox = context.user
    calendar_id = context.params.get("calendar")
    if calendar_id is None:
        return mailbox.default_calendar
    calendar = mailbox.calendars.get(calendar_id)
    if calendar is None:
        raise item_not_found()
    return calendar


def scope_calendar(context: Context) -> str | None:
    """The calendar id an events path is limited to; None for /users/{id}/events."""
    segments = context.segments
    if segments[2].lower() == "events":
        return None
    return calendar_of(context).id


def in_scope(context: Context, event: Event) -> bool:
    calendar_id = scope_calendar(context)
    return calendar_id is None or event.calendar_id == calendar_id


def entity_context(context: Context) -> str:
    return f"{context.state.graph_url}/$metadata#users('{context.user.upn}')/events/$entity"


def _location(context: Context, event_id: str) -> dict[str, str]:
    return {
        "Location": f"{context.state.graph_url}/Users('{context.user.id}')/Events('{event_id}')"
    }


def write_view(context: Context) -> View:
    """How POST and PATCH answers render: outlook.body-content-type is documented for GET
    only, and the documented create and update examples answer the body as HTML."""
    return replace(context.view(), body_type=None)


async def create_event(context: Context) -> Reply:
    calendar, view = calendar_of(context), write_view(context)
    changes = parse_changes(context.call.json(), creating=True)
    store, mailbox = context.state.store, context.user
    with store.lock:
        transaction_id = changes.get("transactionId")
        event = mailbox.by_transaction_id(transaction_id) if transaction_id else None
        if event is not None and mailbox.is_deleted(event):
            raise GraphError(
                400, "ErrorInvalidRequest", "The transactionId belongs to a deleted item."
            )
        if event is None:
            event = store.insert(mailbox, new_event(calendar.id, changes))
        body = render_event(event, mailbox, view)
    body["@odata.context"] = entity_context(context)
    return Reply(201, body, {**_location(context, event.id), **applied_preferences(context)})


def find_item(context: Context) -> tuple[Event, Occurrence | None]:
    """The event (or occurrence of a series) the {event} path segment names, or 404."""
    mailbox, item_id = context.user, context.params["event"]
    event = mailbox.events.get(item_id)
    if event is not None and in_scope(context, event):
        return event, None
    parts = recurrence.split_occurrence_id(item_id)
    master = mailbox.events.get(parts[0]) if parts else None
    if parts and master is not None and master.recurrence and in_scope(context, master):
        moment = parts[1]
        for occurrence in recurrence.expand(
            master, moment - timedelta(seconds=1), moment + timedelta(seconds=1)
        ):
            if occurrence.original_start == moment:
                return master, occurrence
    raise item_not_found()


def check_if_match(context: Context, event: Event) -> None:
    expected = context.call.headers.get("if-match")
    if expected is None or expected.strip() == "*":
        return
    if _bare_etag(expected) != _bare_etag(event.etag):
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed "
            "in the request does not match the current change key for the item.",
        )


def _bare_etag(value: str) -> str:
    value = value.strip()
    return (value[2:] if value.startswith("W/") else value).strip('"')


async def get_event(context: Context) -> Reply:
    with context.state.store.lock:
        event, occurrence = find_item(context)
        body = render_event(event, context.user, context.view(), occurrence)
    body["@odata.context"] = entity_context(context)
    return Reply(200, body, applied_preferences(context))


async def update_event(context: Context) -> Reply:
    store, view = context.state.store, write_view(context)
    changes = parse_changes(context.call.json(), creating=False)
    with store.lock:
        event, occurrence = find_item(context)
        if occurrence is not None:
            raise not_implemented("updating one occurrence of a series")
        check_if_match(context, event)
        apply_changes(event, changes)
        store.changed(context.user, event)
        body = render_event(event, context.user, view)
    body["@odata.context"] = entity_context(context)
    return Reply(200, body, applied_preferences(context))


async def delete_event(context: Context) -> Reply:
    store = context.state.store
    with store.lock:
        event, occurrence = find_item(context)
        check_if_match(context, event)
        if occurrence is None:
            store.remove(context.user, event)
        else:
            zone = resolve_zone(event.start_zone)
            event.deleted_occurrences.add(occurrence.original_start.astimezone(zone).date())
            store.changed(context.user, event)
    return Reply(204)


async def list_events(context: Context) -> Reply:
    query = context.call.query
    refuse_unmodelled_options(query)
    check_collection_query(context, calendar_scoped=scope_calendar(context) is not None)
    predicate = parse_filter(query["$filter"]) if "$filter" in query else None
    view = context.view()
    with context.state.store.lock:
        calendar_id = scope_calendar(context)
        events = [
            e
            for e in context.user.events.values()
            if calendar_id is None or e.calendar_id == calendar_id
        ]
        if predicate is not None:
            events = [e for e in events if predicate(resolver(e))]
        events = _ordered(events, query.get("$orderby"))
        items = [render_event(e, context.user, view) for e in events]
    odata_context = f"{context.state.graph_url}/$metadata#users('{context.user.upn}')/events"
    return Reply(200, collection(context, items, odata_context), applied_preferences(context))


def _ordered(events: list[Event], orderby: str | None) -> list[Event]:
    if not orderby:
        return events
    name, _, direction = orderby.strip().partition(" ")
    key = _ORDERABLE.get(name.lower())
    if key is None or direction.strip().lower() not in {"", "asc", "desc"}:
        raise not_implemented(f"$orderby={orderby}")
    return sorted(events, key=key, reverse=direction.strip().lower() == "desc")


def resolver(event: Event, occurrence: Occurrence | None = None) -> Any:
    """Property values of an event as $filter sees them."""
    start, end = (occurrence.start, occurrence.end) if occurrence else (event.start, event.end)
    values: dict[str, Any] = {
        "subject": event.fields.get("subject", ""),
        "transactionId": event.transaction_id,
        "iCalUId": event.ical_uid,
        "showAs": event.fields.get("showAs", "busy"),
        "importance": event.fields.get("importance", "normal"),
        "isCancelled": False,
        "type": "occurrence"
        if occurrence
        else ("seriesMaster" if event.recurrence else "singleInstance"),
        "start/dateTime": format_graph_time(start.astimezone(UTC)),
        "end/dateTime": format_graph_time(end.astimezone(UTC)),
        "createdDateTime": format_graph_time(event.created) + "Z",
        "lastModifiedDateTime": format_graph_time(event.modified) + "Z",
        "singleValueExtendedProperties": [(k, v) for k, (_, v) in event.extended.items()],
    }
    return values.get


def routes() -> list[Route]:
    found = []
    for scope in _SCOPES:
        found += [
            route("POST", scope, create_event, "write", creates=True),
            route("GET", scope, list_events, "read"),
            route("GET", scope + "/{event}", get_event, "read"),
            route("PATCH", scope + "/{event}", update_event, "write"),
            route("DELETE", scope + "/{event}", delete_event, "write"),
        ]
    return found

"""calendarView/delta: a first round lists the window, later rounds only what changed.

    GET /users/{id}/calendarView/delta?startDateTime=...&endDateTime=...
      -> pages linked by @odata.nextLink ($skiptoken), the last one with an
         @odata.deltaLink ($deltatoken) that starts the next round
    GET <deltaLink> -> instances added or changed since, and removed ones as
         {"id": ..., "@removed": {"reason": "deleted"}}

As event: delta documents, an event outside the window that was added, changed or
deleted since the previous round is also reported under @removed. The window and the
Prefer: outlook.timezone of the round's first request are kept in the token. $select,
$expand, $filter, $orderby and $search are refused (not supported by delta on a
calendarView). `GraphDouble.expire_delta_tokens()` forgets every token: using one is
then 410 Gone, code syncStateNotFound, and the client must start a new round.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.graph.calendarview import Instance, instances, window
from tests.graph.errors import GraphError, Reply
from tests.graph.eventjson import View, render_event
from tests.graph.events import calendar_of
from tests.graph.forms import check_delta_path
from tests.graph.graph import Context, Route, route
from tests.graph.paging import page_size
from tests.graph.store import Mailbox

_UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search")


@dataclass
class Round:
    """What a deltaToken stands for: the window and the instances the client has seen."""

    calendar_id: str
    start: datetime
    end: datetime
    zone: str | None
    seq: int  # the mailbox's change number when the round ended
    known: dict[str, str]  # instance id -> changeKey


@dataclass
class Pages:
    """What a skipToken stands for: the rest of a round's items, and the round it ends."""

    items: list[dict[str, Any]]
    ending: Round


@dataclass
class DeltaTokens:
    rounds: dict[str, Round] = field(default_factory=dict)
    pages: dict[str, Pages] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expire(self) -> None:
        with self.lock:
            self.rounds.clear()
            self.pages.clear()

    def take_round(self, token: str) -> Round:
        with self.lock:
            found = self.rounds.get(token)
        if found is None:
            raise _gone()
        return found

    def take_pages(self, token: str) -> Pages:
        with self.lock:
            found = self.pages.get(token)  # reusable, so a retried page fetch works
        if found is None:
            raise _gone()
        return found

    def keep(self, value: Round | Pages) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            if isinstance(value, Round):
                self.rounds[token] = value
            else:
                self.pages[token] = value
        return token


def _gone() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be "
        "synchronized again.",
    )


def _snapshot(mailbox: Mailbox, calendar_id: str, start: datetime, end: datetime) -> list[Instance]:
    return instances(mailbox, {calendar_id}, start, end)


def _instance_id(instance: Instance) -> str:
    event, occurrence = instance
    return occurrence.id if occurrence else event.id


def _removed(item_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": item_id,
        "@removed": {"reason": "deleted"},
    }


def first_round(context: Context) -> tuple[list[dict[str, Any]], Round]:
    start, end = window(context)
    zone = context.call.prefer.get("outlook.timezone") or None
    mailbox, calendar_id = context.user, calendar_of(context).id
    current = _snapshot(mailbox, calendar_id, start, end)
    view = View(zone=zone)
    items = [render_event(e, mailbox, view, o) for e, o in current]
    known = {_instance_id(i): i[0].change_key for i in current}
    return items, Round(calendar_id, start, end, zone, mailbox.seq, known)


def next_round(mailbox: Mailbox, previous: Round) -> tuple[list[dict[str, Any]], Round]:
    current = _snapshot(mailbox, previous.calendar_id, previous.start, previous.end)
    view = View(zone=previous.zone)
    items = [
        render_event(e, mailbox, view, o)
        for e, o in current
        if previous.known.get(_instance_id((e, o))) != e.change_key
    ]
    present = {_instance_id(i) for i in current}
    gone = [item_id for item_id in previous.known if item_id not in present]
    gone += _changed_outside(mailbox, previous, present)
    known = {_instance_id(i): i[0].change_key for i in current}
    ending = Round(
        previous.calendar_id, previous.start, previous.end, previous.zone, mailbox.seq, known
    )
    return items + [_removed(item_id) for item_id in gone], ending


def _changed_outside(mailbox: Mailbox, previous: Round, present: set[str]) -> list[str]:
    """Events of the calendar changed since the round but not in the window (documented quirk)."""
    changed = [
        e.id
        for e in mailbox.events.values()
        if e.calendar_id == previous.calendar_id and e.seq > previous.seq and not e.recurrence
    ]
    changed += [
        t.event_id
        for t in mailbox.tombstones
        if t.calendar_id == previous.calendar_id and t.seq > previous.seq
    ]
    return [i for i in dict.fromkeys(changed) if i not in present and i not in previous.known]


async def calendar_view_delta(context: Context) -> Reply:
    query = context.call.query
    check_delta_path(context)
    for name in _UNSUPPORTED:
        if name in query:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                "The following parameters are not supported with change tracking over the "
                f"'CalendarView' resource: '{name}'.",
            )
    tokens: DeltaTokens = context.state.delta
    with context.state.store.lock:
        if "$skiptoken" in query:
            pages = tokens.take_pages(query["$skiptoken"])
        elif "$deltatoken" in query:
            items, ending = next_round(context.user, tokens.take_round(query["$deltatoken"]))
            pages = Pages(items, ending)
        else:
            items, ending = first_round(context)
            pages = Pages(items, ending)
    return Reply(200, _page(context, pages))


def _page(context: Context, pages: Pages) -> dict[str, Any]:
    size = page_size(context)
    tokens: DeltaTokens = context.state.delta
    link = context.state.graph_url + context.call.path
    body: dict[str, Any] = {
        "@odata.context": f"{context.state.graph_url}/$metadata#Collection(event)",
        "value": pages.items[:size],
    }
    rest = pages.items[size:]
    if rest:
        body["@odata.nextLink"] = f"{link}?$skiptoken={tokens.keep(Pages(rest, pages.ending))}"
    else:
        body["@odata.deltaLink"] = f"{link}?$deltatoken={tokens.keep(pages.ending)}"
    return body


def routes() -> list[Route]:
    return [
        route("GET", "/users/{user}/calendarView/delta", calendar_view_delta, "read"),
        route("GET", "/users/{user}/calendar/calendarView/delta", calendar_view_delta, "read"),
        route(
            "GET",
            "/users/{user}/calendars/{calendar}/calendarView/delta",
            calendar_view_delta,
            "read",
        ),
    ]

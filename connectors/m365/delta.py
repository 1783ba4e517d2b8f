"""The Microsoft 365 change feed (connectors/base.py, "Watching a calendar"): calendarView delta.

    complete  GET <delta path>?startDateTime=&endDateTime= ─▶ nextLink pages
              ─▶ deltaLink (the cursor); held ids it did not list are looked up one by one
    delta     GET <deltaLink> ─▶ nextLink pages ─▶ a new deltaLink; `@removed` ids syncd holds
              are looked up one by one (gone, or only moved out of the window)
    then      GET <calendar>/events/{id}?$select=...&$expand=<booking property> for each listed
              event whose etag is new: delta answers carry no extended properties (delta does
              not take $expand), and the booking key lives in one

Every request goes through the mailbox's batcher, so the look-ups travel as JSON
batches within the mailbox's request slots and Retry-After gate. A cursor Graph
refuses (410 Gone / syncStateNotFound, or any error of the feed itself that is
not transient or auth) gives a complete listing and a fresh deltaLink.
Occurrences of a series come as items of their own (type "occurrence", one
interval each) and carry no booking key: syncd never writes series.

event-delta documents /users/{id}/calendarView/delta, the primary calendar's, only.
Another calendar's delta (/users/{id}/calendars/{cid}/calendarView/delta) is tried;
when Graph refuses it (400 or 501) the binding switches to a complete windowed
calendarView listing on every pass (documented for any calendar), recorded as its
cursor (LISTING_CURSOR, kept in the binding's reconcile state), its reset reason and
the syncd_graph_fallbacks_total metric.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.base import (
    BusyInterval,
    ChangeSet,
    ChangeWindow,
    ObservedEvent,
    RemoteRef,
    Unreadable,
)
from connectors.errors import AuthError, PermanentError, RemoteError, RemoteNotFound, TransientError
from connectors.instrumentation import observer
from connectors.m365 import events
from connectors.m365.http import GraphRequest, GraphResponse, error_for
from connectors.m365.settings import KIND

PAGE_SIZE = 100  # Prefer: odata.maxpagesize of delta pages
MAX_PAGES = 10_000  # pages of one round followed before giving up on it
LOOKUP_CHUNK = 100  # look-ups handed to the batcher at a time (it sends 20 per $batch)
_LOOKUP_SELECT = "start,end,showAs,isCancelled,type,iCalUId"
_SERIES_KINDS = frozenset({"occurrence", "exception", "seriesMaster"})

Send = Callable[[GraphRequest], Awaitable[GraphResponse]]
#: The cursor of a binding whose delta Graph refused: list the window on every pass.
LISTING_CURSOR = "calendarView-listing"
_FORM_REFUSED = frozenset({400, 501})


class DeltaRefusedError(PermanentError):
    """Graph refused an undocumented delta form (400/501): list the window instead."""


@dataclass(frozen=True)
class GraphFeed:
    """What the feed needs of one mailbox calendar (M365Calendar builds it)."""

    view_path: str  # <calendar>/calendarView
    events_path: str  # <calendar>/events
    send: Send  # the mailbox's batcher: any answer, whatever its status
    relative: Callable[[str], str]  # an absolute Graph link as a path under the Graph root
    delta_path: str  # /users/{id}/calendarView/delta, or <calendar>/calendarView/delta
    delta_documented: bool = True  # False: a refusal of delta switches to listing

    async def get(self, url: str, *, page: bool = False) -> GraphResponse:
        prefer = f"{events.PREFER}, odata.maxpagesize={PAGE_SIZE}" if page else events.PREFER
        return await self.send(GraphRequest("GET", url, {"Prefer": prefer}))


async def changes(
    feed: GraphFeed, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
) -> ChangeSet:
    if cursor == LISTING_CURSOR:
        return await _listed(feed, window, known, None)
    if cursor is None:
        return await _complete_or_listed(feed, window, known, None)
    try:
        delta_link, items = await _round(feed, feed.relative(cursor))
    except (TransientError, AuthError):
        raise
    except RemoteError as error:
        reason = f"delta token refused ({error})"
        return await _complete_or_listed(feed, window, known, reason)
    return await _delta(feed, window, known, delta_link, items)


async def _complete_or_listed(
    feed: GraphFeed, window: ChangeWindow, known: Mapping[str, str | None], reason: str | None
) -> ChangeSet:
    try:
        return await _complete(feed, window, known, reason)
    except DeltaRefusedError as refusal:
        if feed.delta_documented:
            raise
        observer(KIND).fell_back("delta")
        return await _listed(feed, window, known, f"{refusal}: listing the window each pass")


async def _listed(
    feed: GraphFeed, window: ChangeWindow, known: Mapping[str, str | None], reason: str | None
) -> ChangeSet:
    """A complete listing of the window through calendarView, and LISTING_CURSOR."""
    listed = await _view_items(feed, window)
    unlisted = [item_id for item_id in known if item_id not in listed]
    found = await _Findings.gather(feed, window, known, listed.values(), unlisted)
    return _whole_window(LISTING_CURSOR, found, reason)


async def _view_items(feed: GraphFeed, window: ChangeWindow) -> dict[str, dict[str, Any]]:
    start, end = events.query_time(window.start), events.query_time(window.end)
    next_url: str | None = (
        f"{feed.view_path}?startDateTime={start}&endDateTime={end}"
        f"&$select={_LOOKUP_SELECT}&$top={PAGE_SIZE}"
    )
    items: dict[str, dict[str, Any]] = {}
    for _ in range(MAX_PAGES):
        if next_url is None:
            return items
        body = await _page(feed, next_url, "calendarView")
        items |= {i["id"]: i for i in body["value"] if isinstance(i, dict) and _has_id(i)}
        link = body.get("@odata.nextLink")
        next_url = feed.relative(link) if isinstance(link, str) else None
    raise PermanentError(f"calendarView: still more after {MAX_PAGES} pages")


def _has_id(item: dict[str, Any]) -> bool:
    return isinstance(item.get("id"), str)


async def _round(feed: GraphFeed, url: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Every page of one delta round: the deltaLink that ends it, and its items by id.

    An item listed twice (Graph may repeat one within a round) counts as its last listing.
    """
    items: dict[str, dict[str, Any]] = {}
    next_url = url
    for _ in range(MAX_PAGES):
        body = await _page(feed, next_url)
        for item in body["value"]:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                items.pop(item["id"], None)
                items[item["id"]] = item
        if isinstance(body.get("@odata.deltaLink"), str):
            return body["@odata.deltaLink"], items
        if not isinstance(body.get("@odata.nextLink"), str):
            raise PermanentError("calendarView delta: a page without nextLink or deltaLink")
        next_url = feed.relative(body["@odata.nextLink"])
    raise PermanentError(f"calendarView delta: no deltaLink after {MAX_PAGES} pages")


async def _page(feed: GraphFeed, url: str, what: str = "calendarView/delta") -> dict[str, Any]:
    answer = await feed.get(url, page=True)
    if not answer.ok:  # named without the mailbox: the message reaches logs and the store
        error = error_for(answer, GraphRequest("GET", f"/{what}"))
        if answer.status in _FORM_REFUSED and what.endswith("delta"):
            raise DeltaRefusedError(str(error)) from error
        raise error
    body = answer.body
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise PermanentError(f"{what}: no collection in the answer")
    return body


def _start_url(feed: GraphFeed, window: ChangeWindow) -> str:
    start, end = events.query_time(window.start), events.query_time(window.end)
    return f"{feed.delta_path}?startDateTime={start}&endDateTime={end}"


async def _complete(
    feed: GraphFeed, window: ChangeWindow, known: Mapping[str, str | None], reason: str | None
) -> ChangeSet:
    try:
        delta_link, items = await _round(feed, _start_url(feed, window))
    except RemoteNotFound:  # a page token expired while the round was read: once more
        delta_link, items = await _round(feed, _start_url(feed, window))
    present = {item_id: item for item_id, item in items.items() if "@removed" not in item}
    unlisted = [item_id for item_id in known if item_id not in present]
    found = await _Findings.gather(feed, window, known, present.values(), unlisted)
    return _whole_window(delta_link, found, reason)


def _whole_window(cursor: str, found: _Findings, reason: str | None) -> ChangeSet:
    """What a complete reading of the window found, as the change set it makes."""
    return ChangeSet(
        cursor,
        complete=True,
        changed=found.changed,
        removed=found.gone,
        unreadable=found.unreadable,
        unreadable_details=found.details,
        reset_reason=reason,
    )


async def _delta(
    feed: GraphFeed,
    window: ChangeWindow,
    known: Mapping[str, str | None],
    delta_link: str,
    items: dict[str, dict[str, Any]],
) -> ChangeSet:
    removed = {item_id for item_id, item in items.items() if "@removed" in item}
    present = [item for item_id, item in items.items() if item_id not in removed]
    found = await _Findings.gather(feed, window, known, present, [i for i in removed if i in known])
    gone = found.gone | {item_id for item_id in removed if item_id not in known}
    return ChangeSet(delta_link, complete=False, changed=found.changed, removed=gone,
                     unreadable=found.unreadable, unreadable_details=found.details)


def _etag(data: Mapping[str, Any]) -> str | None:
    etag = data.get("@odata.etag") or data.get("changeKey")
    return etag if isinstance(etag, str) and etag else None


def is_new(item_id: str, etag: str | None, known: Mapping[str, str | None]) -> bool:
    """Whether the caller lacks this version of the event (an unknown etag is always new)."""
    return etag is None or item_id not in known or known[item_id] != etag


@dataclass
class _Findings:
    """What the listed items and the look-ups came to."""

    changed: tuple[ObservedEvent, ...]
    gone: frozenset[str]
    unreadable: tuple[RemoteRef, ...]
    details: dict[str, Unreadable]  # by event id: why, and what names it

    @classmethod
    async def gather(
        cls,
        feed: GraphFeed,
        window: ChangeWindow,
        known: Mapping[str, str | None],
        listed: Iterable[dict[str, Any]],
        unlisted: list[str],
    ) -> _Findings:
        """Listed items whose etag is new, read in full; unlisted held ids, looked up."""
        new = [item for item in listed if is_new(item["id"], _etag(item), known)]
        occurrences = [item for item in new if item.get("type") == "occurrence"]
        wanted = [item["id"] for item in new if item.get("type") != "occurrence"] + unlisted
        answers = await _look_up(feed, wanted)
        changed: list[ObservedEvent] = []
        unreadable: dict[RemoteRef, Unreadable] = {}
        for item in occurrences:
            _read(item, window, changed, unreadable)
        gone = set()
        for item_id, answer in zip(wanted, answers, strict=True):
            if answer is None:
                gone.add(item_id)
            elif is_new(item_id, _etag(answer), known):
                _read(answer, window, changed, unreadable)
        # gone from a listing is the next delta's news; gone when held is a removal
        details = {ref.remote_id: detail for ref, detail in unreadable.items()}
        return cls(tuple(changed), frozenset(gone & set(unlisted)), tuple(unreadable), details)


async def _look_up(feed: GraphFeed, event_ids: list[str]) -> list[dict[str, Any] | None]:
    """Each event as it is now with its booking key, or None when this calendar has it no more."""
    found: list[dict[str, Any] | None] = []
    for first in range(0, len(event_ids), LOOKUP_CHUNK):
        chunk = event_ids[first : first + LOOKUP_CHUNK]
        answers = await asyncio.gather(*(feed.get(_event_url(feed, i)) for i in chunk))
        found += [
            _looked_up(event_id, answer) for event_id, answer in zip(chunk, answers, strict=True)
        ]
    return found


def _event_url(feed: GraphFeed, event_id: str) -> str:
    query = f"$select={_LOOKUP_SELECT}&$expand={quote(events.EXPAND, safe='')}"
    return f"{feed.events_path}/{quote(event_id, safe='')}?{query}"


def _looked_up(event_id: str, answer: GraphResponse) -> dict[str, Any] | None:
    if answer.ok and isinstance(answer.body, dict):
        return answer.body
    error = error_for(answer, GraphRequest("GET", "/events/{id}"))
    if isinstance(error, RemoteNotFound):  # deleted, moved to another calendar, or no event id
        return None
    if isinstance(error, (TransientError, AuthError)):
        raise error
    return {"id": event_id, "@unreadable": str(error)}


def _read(
    data: dict[str, Any],
    window: ChangeWindow,
    changed: list[ObservedEvent],
    unreadable: dict[RemoteRef, Unreadable],
) -> None:
    if "@unreadable" in data:
        unreadable[RemoteRef(data["id"], None)] = Unreadable(str(data["@unreadable"]))
        return
    try:
        changed.append(observe(data, window))
    except PermanentError as error:
        named = [value if isinstance(value, str) else None
                 for value in (data.get("iCalUId"), data.get("subject"))]
        unreadable[RemoteRef(str(data.get("id")), _etag(data))] = Unreadable(str(error), *named)


def observe(data: dict[str, Any], window: ChangeWindow) -> ObservedEvent:
    """An event's JSON (times in UTC) as the feed reports it; `PermanentError` if unreadable."""
    event = events.parse_event(data)
    kind = data.get("type")
    # a series master's own times are its first occurrence; its occurrences are items of their own
    interval = window.clip(BusyInterval(event.start, event.end))
    shown = event.busy and interval is not None and kind != "seriesMaster"
    uid = data.get("iCalUId")
    return ObservedEvent(
        ref=RemoteRef(event.ref.remote_id, _etag(data)),
        booking_key=event.booking_key,
        uid=uid if isinstance(uid, str) and uid else None,
        start=event.start,
        end=event.end,
        busy=event.busy,
        cancelled=event.cancelled,
        recurring=kind in _SERIES_KINDS,
        intervals=(interval,) if shown and interval is not None else (),
    )

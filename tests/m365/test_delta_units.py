"""The delta feed's reading of Graph's answers, against a scripted Graph: repeats, removals,
look-ups and failures one by one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import ChangeWindow, RemoteRef
from connectors.m365 import delta
from connectors.m365.events import BOOKING_PROPERTY
from connectors.m365.http import GraphRequest, GraphResponse
from syncd.errors import PermanentError, TransientError

pytestmark = pytest.mark.anyio
ROOT = "https://graph.test/v1.0"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = ChangeWindow(START - timedelta(days=1), START + timedelta(days=14))
CURSOR = f"{ROOT}/users/a@b.test/calendar/calendarView/delta?$deltatoken=old"


def event(event_id: str, etag: str, hours: int = 0, **extra: Any) -> dict[str, Any]:
    start = START + timedelta(hours=hours)
    return {
        "id": event_id, "@odata.etag": etag, "type": "singleInstance", "showAs": "busy",
        "iCalUId": f"uid-{event_id}", "subject": "", "isCancelled": False,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC"},
        **extra,
    }


def tagged(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {**body, "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY, "value": key}]}


def removed(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "@removed": {"reason": "deleted"}}


class ScriptedGraph:
    """Delta pages in order, and look-ups answered from `events` (absent: 404)."""

    def __init__(self, pages: list[list[dict[str, Any]]], events: dict[str, Any]) -> None:
        self.pages = pages
        self.events = events
        self.requests: list[GraphRequest] = []
        self.look_up_answer: Callable[[str], GraphResponse] | None = None

    async def send(self, request: GraphRequest) -> GraphResponse:
        self.requests.append(request)
        if "/delta" in request.url:
            return self._page(request.url)
        event_id = request.url.split("/events/", 1)[1].split("?", 1)[0]
        if self.look_up_answer is not None:
            return self.look_up_answer(event_id)
        found = self.events.get(event_id)
        if found is None:
            return GraphResponse(404, {}, {"error": {"code": "ErrorItemNotFound"}})
        return GraphResponse(200, {}, found)

    def _page(self, url: str) -> GraphResponse:
        if "$deltatoken=expired" in url:
            return GraphResponse(410, {}, {"error": {"code": "syncStateNotFound"}})
        number = int(url.split("page=", 1)[1]) if "page=" in url else 0
        body: dict[str, Any] = {"value": self.pages[number]}
        base = f"{ROOT}/users/a@b.test/calendar/calendarView/delta"
        if number + 1 < len(self.pages):
            body["@odata.nextLink"] = f"{base}?page={number + 1}"
        else:
            body["@odata.deltaLink"] = f"{base}?$deltatoken=new"
        return GraphResponse(200, {}, body)

    @property
    def look_ups(self) -> list[str]:
        return [r.url for r in self.requests if "/delta" not in r.url]

    def feed(self) -> delta.GraphFeed:
        return delta.GraphFeed(
            "/users/a@b.test/calendar/calendarView", "/users/a@b.test/calendar/events",
            self.send, relative, "/users/a@b.test/calendarView/delta",
        )


def relative(link: str) -> str:
    """As GraphHttp.relative: only links under the Graph root are followed."""
    if not link.startswith(ROOT + "/"):
        raise PermanentError("Graph sent a link outside its own root")
    return link.removeprefix(ROOT)


async def test_an_event_listed_twice_in_a_round_counts_once_as_last_listed() -> None:
    graph = ScriptedGraph(
        [[event("e1", "v1")], [event("e2", "v1"), event("e1", "v2", hours=3)]],
        {"e1": event("e1", "v2", hours=3), "e2": event("e2", "v1")},
    )
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {})
    assert sorted((e.ref.remote_id, e.ref.etag) for e in answer.changed) == [
        ("e1", "v2"), ("e2", "v1")]
    assert answer.cursor == f"{ROOT}/users/a@b.test/calendar/calendarView/delta?$deltatoken=new"
    assert len(graph.look_ups) == 2


async def test_listed_then_removed_in_one_round_is_removed() -> None:
    graph = ScriptedGraph([[event("e1", "v1")], [removed("e1")]], {})
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {"e1": "v0"})
    assert (answer.changed, answer.removed) == ((), {"e1"})


async def test_removals_of_unheld_events_need_no_look_up() -> None:
    graph = ScriptedGraph([[removed("x1"), removed("x2")]], {})
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {})
    assert answer.removed == {"x1", "x2"}
    assert graph.look_ups == []


async def test_a_held_event_reported_removed_but_still_there_unchanged_is_no_news() -> None:
    far = event("e1", "v1", hours=24 * 60)
    graph = ScriptedGraph([[removed("e1")]], {"e1": far})
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {"e1": "v1"})
    assert (answer.changed, answer.removed) == ((), frozenset())


async def test_a_held_event_moved_out_of_the_window_is_reported_with_its_time() -> None:
    far = tagged(event("e1", "v2", hours=24 * 60), "b-1")
    graph = ScriptedGraph([[removed("e1")]], {"e1": far})
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {"e1": "v1"})
    (moved,) = answer.changed
    assert (moved.booking_key, moved.start, moved.intervals) == (
        "b-1", START + timedelta(days=60), ())
    assert answer.removed == frozenset()


async def test_held_etags_are_not_looked_up_again() -> None:
    graph = ScriptedGraph([[event("e1", "v1"), event("e2", "v1")]], {"e2": event("e2", "v1")})
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {"e1": "v1"})
    assert [e.ref.remote_id for e in answer.changed] == ["e2"]
    assert len(graph.look_ups) == 1


async def test_an_expired_token_restarts_from_the_window() -> None:
    graph = ScriptedGraph([[event("e1", "v1")]], {"e1": event("e1", "v1")})
    answer = await delta.changes(graph.feed(), CURSOR.replace("old", "expired"), WINDOW,
                                 {"e1": "v1", "gone": "v1"})
    assert answer.complete
    assert answer.reset_reason is not None
    assert "syncStateNotFound" in answer.reset_reason
    assert (answer.changed, answer.removed) == ((), {"gone"})
    first = graph.requests[1].url
    assert "startDateTime=2026-03-01T09:00:00Z" in first
    assert "endDateTime=2026-03-16T09:00:00Z" in first


async def test_a_cursor_from_elsewhere_is_refused_not_followed() -> None:
    graph = ScriptedGraph([[]], {})
    answer = await delta.changes(graph.feed(), "https://evil.test/v1.0/x", WINDOW, {})
    assert answer.complete
    assert answer.reset_reason is not None
    assert all(r.url.startswith("/users/a@b.test/") for r in graph.requests)


async def test_throttled_look_ups_fail_the_feed_and_keep_the_cursor() -> None:
    graph = ScriptedGraph([[event("e1", "v1")]], {})
    graph.look_up_answer = lambda _: GraphResponse(429, {"retry-after": "2"}, None)
    with pytest.raises(TransientError) as raised:
        await delta.changes(graph.feed(), CURSOR, WINDOW, {})
    assert raised.value.retry_after == 2


async def test_an_event_that_cannot_be_read_is_unreadable_not_fatal() -> None:
    broken = event("e2", "v1", subject="Gym")
    broken["start"] = {"dateTime": "yesterday", "timeZone": "UTC"}
    graph = ScriptedGraph([[event("e1", "v1"), event("e2", "v1"), event("e3", "v1")]],
                          {"e1": event("e1", "v1"), "e2": broken})
    refused = GraphResponse(400, {}, {"error": {"code": "ErrorInvalidRequest"}})
    answers = {"e1": GraphResponse(200, {}, event("e1", "v1")),
               "e2": GraphResponse(200, {}, broken), "e3": refused}
    graph.look_up_answer = answers.__getitem__
    answer = await delta.changes(graph.feed(), CURSOR, WINDOW, {})
    assert [e.ref.remote_id for e in answer.changed] == ["e1"]
    assert sorted(answer.unreadable, key=lambda r: r.remote_id) == [
        RemoteRef("e2", "v1"), RemoteRef("e3", None)]
    named = answer.unreadable_details["e2"]
    assert (named.uid, named.summary) == ("uid-e2", "Gym")
    assert answer.unreadable_details["e3"].reason


async def test_a_cancelled_event_is_cancelled_and_free() -> None:
    cancelled = event("e1", "v1", isCancelled=True)
    graph = ScriptedGraph([[cancelled]], {"e1": cancelled})
    (seen,) = (await delta.changes(graph.feed(), CURSOR, WINDOW, {})).changed
    assert (seen.cancelled, seen.busy, seen.intervals) == (True, False, ())


async def test_requests_ask_for_utc_immutable_ids_and_pages() -> None:
    graph = ScriptedGraph([[event("e1", "v1")]], {"e1": event("e1", "v1")})
    await delta.changes(graph.feed(), None, WINDOW, {})
    page, look_up = (r.headers["Prefer"] for r in graph.requests)
    for prefer in (page, look_up):
        assert 'IdType="ImmutableId"' in prefer
        assert 'outlook.timezone="UTC"' in prefer
    assert f"odata.maxpagesize={delta.PAGE_SIZE}" in page
    assert "$expand=singleValueExtendedProperties" in graph.look_ups[0]

"""The CalDAV change feed beyond the contract: what it asks the server, and odd answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from connectors.base import ChangeWindow
from connectors.caldav.sync import MULTIGET_BATCH
from tests.contract.harness import DavHarness, mocked_calendar, unique_name
from tests.contract.suite import HOUR, MONDAY_10, WINDOW, held_after, spec
from tests.reconcile.recording import Recording, recorded_connector
from tests.servers import DavServer

pytestmark = pytest.mark.anyio
SYNC, MULTIGET, QUERY = (
    "REPORT sync-collection", "REPORT calendar-multiget", "REPORT calendar-query"
)


@pytest.fixture(params=["radicale", "xandikos"])
def server(request: pytest.FixtureRequest) -> DavServer:
    found: DavServer = request.getfixturevalue(request.param)
    return found


@pytest.fixture
async def recorded(server: DavServer) -> AsyncIterator[tuple[DavHarness, Recording]]:
    connector, recording = recorded_connector(server)
    collection = server.create_collection(unique_name())
    yield DavHarness(connector.calendar(collection), server, collection), recording
    await connector.aclose()


async def fill(harness: DavHarness, count: int) -> None:
    slots = asyncio.Semaphore(8)

    async def create(number: int) -> None:
        start = MONDAY_10 + number * timedelta(minutes=5)
        async with slots:
            await harness.calendar.create(spec(f"b-{number}", start=start, end=start + HOUR))

    await asyncio.gather(*(create(number) for number in range(count)))


async def test_a_delta_asks_for_the_changed_objects_only(
    recorded: tuple[DavHarness, Recording],
) -> None:
    harness, recording = recorded
    await fill(harness, 120)
    first = await harness.calendar.changes(None, WINDOW, {})
    assert len(first.changed) == 120
    for number in (3, 50, 99):
        href = f"{harness.collection}b-{number}.ics"
        await harness.move_by_hand(href, MONDAY_10 + 2 * HOUR, MONDAY_10 + 3 * HOUR)
    recording.kinds.clear()
    delta = await harness.calendar.changes(first.cursor, WINDOW, held_after(first))
    # Radicale sends the data with the sync answer; Xandikos leaves it to a multiget
    assert recording.kinds in ([SYNC], [SYNC, MULTIGET])
    assert {e.booking_key for e in delta.changed} == {"b-3", "b-50", "b-99"}


async def test_a_complete_listing_fetches_only_what_is_not_held(
    recorded: tuple[DavHarness, Recording],
) -> None:
    harness, recording = recorded
    await fill(harness, 30)
    first = await harness.calendar.changes(None, WINDOW, {})
    recording.kinds.clear()
    again = await harness.calendar.changes(None, WINDOW, held_after(first))
    assert recording.kinds == [SYNC, QUERY]
    assert (again.changed, again.removed) == ((), frozenset())


async def test_multigets_are_batched(recorded: tuple[DavHarness, Recording]) -> None:
    harness, recording = recorded
    await fill(harness, MULTIGET_BATCH + 5)
    recording.kinds.clear()
    first = await harness.calendar.changes(None, WINDOW, {})
    assert recording.kinds == [SYNC, QUERY, MULTIGET, MULTIGET]
    assert len(first.changed) == MULTIGET_BATCH + 5


async def test_a_server_without_sync_collection_is_listed_each_time(server: DavServer) -> None:
    connector, recording = recorded_connector(server, refuse_sync=True)
    try:
        collection = server.create_collection(unique_name())
        harness = DavHarness(connector.calendar(collection), server, collection)
        one = await harness.calendar.create(spec("b-1"))
        two = await harness.calendar.create(spec("b-2", start=MONDAY_10 + HOUR,
                                                 end=MONDAY_10 + 2 * HOUR))
        first = await harness.calendar.changes(None, WINDOW, {})
        assert (first.cursor, first.complete, len(first.changed)) == (None, True, 2)
        await harness.move_by_hand(one.remote_id, MONDAY_10 + 3 * HOUR, MONDAY_10 + 4 * HOUR)
        await harness.delete_by_hand(two.remote_id)
        recording.kinds.clear()
        later = await harness.calendar.changes(None, WINDOW, held_after(first))
        assert recording.kinds == [SYNC, "PROPFIND", QUERY, MULTIGET]
        assert [e.start for e in later.changed] == [MONDAY_10 + 3 * HOUR]
        assert later.removed == {two.remote_id}
    finally:
        await connector.aclose()


def _multistatus(*responses: str, token: str | None = None) -> bytes:
    tail = f"<D:sync-token>{token}</D:sync-token>" if token else ""
    return f'<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' \
        f'{"".join(responses)}{tail}</D:multistatus>'.encode()


def _member(href: str, etag: str, data: str | None = None) -> str:
    body = f"<C:calendar-data>{data}</C:calendar-data>" if data is not None else ""
    return (f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
            f"<D:getetag>{etag}</D:getetag>{body}</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")


def _truncated(href: str) -> str:
    return (f"<D:response><D:href>{href}</D:href>"
            "<D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>")


async def test_truncated_sync_answers_are_followed_and_garbage_is_set_apart() -> None:
    tokens: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = request.content
        if b"sync-collection" in body:
            tokens.append(body.split(b"sync-token>")[1].split(b"<")[0].decode())
            if len(tokens) == 1:
                return httpx.Response(207, content=_multistatus(
                    _member("/alice/work/a.ics", '"1"'), _truncated("/alice/work/"), token="t1"))
            return httpx.Response(207, content=_multistatus(
                _member("/alice/work/b.ics", '"2"'), token="t2"))
        return httpx.Response(207, content=_multistatus(
            _member("/alice/work/a.ics", '"1"', "not a calendar"),
            _member("/alice/work/b.ics", '"2"', "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")))

    calendar = mocked_calendar(server)
    window = ChangeWindow(WINDOW.start, WINDOW.end)
    answer = await calendar.changes("t0", window, {})
    assert tokens == ["t0", "t1"]
    assert answer.cursor == "t2"
    assert [ref.remote_id for ref in answer.unreadable] == ["/alice/work/a.ics"]
    assert answer.changed == ()  # b.ics holds no event


async def test_an_error_of_the_sync_report_is_a_complete_listing() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        body = request.content
        if b"sync-collection" in body and b"<D:sync-token>old" in body.replace(b"\n", b""):
            return httpx.Response(500 - 91)  # 409 Conflict, as some servers answer
        if b"sync-collection" in body:
            return httpx.Response(207, content=_multistatus(token="fresh"))
        return httpx.Response(207, content=_multistatus())

    answer = await mocked_calendar(server).changes("old", WINDOW, {"/alice/work/x.ics": '"1"'})
    assert (answer.complete, answer.cursor) == (True, "fresh")
    assert answer.reset_reason
    assert answer.removed == {"/alice/work/x.ics"}

"""The CalDAV connector's clients: each calendar's requests on one of them, calendars dealt
in turn (connectors/caldav/pools.py)."""

from __future__ import annotations

import httpx
import pytest

from connectors.caldav import Settings, build, pools
from connectors.caldav.http import CLIENTS, DavClient
from connectors.caldav.pools import collection_of
from tests.contract.harness import unique_name
from tests.contract.suite import spec
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio


def recording_clients(count: int) -> tuple[list[httpx.AsyncClient], list[tuple[int, str]]]:
    """`count` clients answering 201; each request is noted as (client number, path)."""
    seen: list[tuple[int, str]] = []

    def client(number: int) -> httpx.AsyncClient:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append((number, request.url.path))
            return httpx.Response(201)

        return httpx.AsyncClient(transport=httpx.MockTransport(handler))

    return [client(number) for number in range(count)], seen


def test_a_path_is_in_its_collection() -> None:
    assert collection_of("/dav/alice/work/") == "/dav/alice/work/"
    assert collection_of("/dav/alice/work/b1.ics") == "/dav/alice/work/"
    assert collection_of("/b1.ics") == "/"


async def test_calendars_are_dealt_in_turn_and_keep_their_client() -> None:
    clients, seen = recording_clients(3)
    dav = DavClient(clients, "http://dav.test/")
    paths = ["/a/1.ics", "/b/", "/c/1.ics", "/d/1.ics", "/a/", "/b/2.ics", "/d/"]
    for path in paths:
        await dav.request("PUT", path)
    assert seen == [(0, "/a/1.ics"), (1, "/b/"), (2, "/c/1.ics"), (0, "/d/1.ics"),
                    (0, "/a/"), (1, "/b/2.ics"), (0, "/d/")]
    await dav.aclose()
    assert all(client.is_closed for client in clients)


async def test_past_the_dealt_collections_a_collection_still_keeps_its_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pools, "MAX_DEALT", 2)
    clients, seen = recording_clients(4)
    dav = DavClient(clients, "http://dav.test/")
    for path in ["/a/", "/b/", *(f"/c{n}/{m}.ics" for n in range(20) for m in range(3))]:
        await dav.request("PUT", path)
    by_collection: dict[str, set[int]] = {}
    for number, path in seen:
        by_collection.setdefault(collection_of(path), set()).add(number)
    assert all(len(numbers) == 1 for numbers in by_collection.values())
    assert len(set().union(*by_collection.values())) > 2  # hashed, not all on one client


async def test_one_client_serves_every_calendar() -> None:
    clients, seen = recording_clients(1)
    dav = DavClient(clients[0], "http://dav.test/")
    for path in ["/a/1.ics", "/b/1.ics"]:
        await dav.request("PUT", path)
    assert [number for number, _ in seen] == [0, 0]


async def test_calendars_on_different_clients_are_written_and_read(
    radicale: RadicaleServer,
) -> None:
    connector = build(Settings.model_validate(radicale.connector_settings()))
    names = [radicale.create_collection(unique_name()) for _ in range(CLIENTS + 2)]
    try:
        calendars = [connector.calendar(name) for name in names]
        refs = [await calendar.create(spec(f"k{n}"))
                for n, calendar in enumerate(calendars)]
        for n, (calendar, ref) in enumerate(zip(calendars, refs, strict=True)):
            found = await calendar.find_by_booking(f"k{n}")
            assert found is not None
            assert found.ref.remote_id == ref.remote_id
    finally:
        await connector.aclose()

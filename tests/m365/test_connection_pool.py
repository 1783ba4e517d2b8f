"""The Graph client's connections: a bounded pool shared by every mailbox of the account,
and a request that never left told apart from one that may have run."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.m365.http import GraphHttp, GraphRequest, NotSent, TransportFailure
from tests.contract.suite import spec
from tests.graph import GraphDouble
from tests.m365.support import m365_connector, new_mailbox

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def test_every_mailbox_together_keeps_to_the_connection_pool(
    double: GraphDouble, tmp_path: Path
) -> None:
    connector = m365_connector(double, directory=tmp_path, max_connections=2)
    mailboxes = [new_mailbox(double) for _ in range(6)]
    double.latency_seconds = 0.2  # each mailbox's create is in flight a while
    try:
        await asyncio.gather(*(connector.calendar(m).create(spec()) for m in mailboxes))
    finally:
        await connector.aclose()
    assert double.stats.peak_requests_in_flight == 2
    assert all(len(double.events(m)) == 1 for m in mailboxes)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (connecting is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def exchange(port: int) -> None:
    client = httpx.AsyncClient(timeout=httpx.Timeout(0.5))
    http = GraphHttp(client, f"http://127.0.0.1:{port}/v1.0")
    try:
        await http.exchange(GraphRequest("GET", "/users/anna/calendar"), "token")
    finally:
        await http.aclose()


async def test_a_request_without_a_connection_was_not_sent(closed_port: int) -> None:
    with pytest.raises(NotSent, match="ConnectError"):
        await exchange(closed_port)


async def test_a_request_left_unanswered_may_have_run(silent_port: int) -> None:
    with pytest.raises(TransportFailure, match="ReadTimeout") as raised:
        await exchange(silent_port)
    assert not isinstance(raised.value, NotSent)

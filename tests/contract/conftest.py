"""Fixtures for the contract suite: real servers (one each per session) and harnesses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.caldav import CalDAVConnector, Settings, build
from tests.contract.harness import DavHarness
from tests.servers import DavServer, RadicaleServer, XandikosServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XandikosServer]:
    with XandikosServer(tmp_path_factory.mktemp("xandikos")) as server:
        yield server


def unique_name(prefix: str = "cal") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def caldav_connector(server: DavServer) -> CalDAVConnector:
    return build(Settings.model_validate(server.connector_settings()))


async def dav_harness(server: DavServer) -> AsyncIterator[DavHarness]:
    """A fresh collection on `server`, reached through the CalDAV connector."""
    connector = await caldav_connector(server)
    collection = server.create_collection(unique_name())
    try:
        yield DavHarness(connector.calendar(collection), server, collection)
    finally:
        await connector.aclose()

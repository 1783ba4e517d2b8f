"""Fixtures: real servers (one each per session), the hands on each, a salon per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.reconcile.hands import DavHands, Hands, MemoryHands
from tests.reconcile.shop import Shop, migrated, settings_for
from tests.servers import RadicaleServer, XandikosServer

SERVICES = ["memory", "radicale", "xandikos"]


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


@pytest.fixture(params=SERVICES)
async def hands(request: pytest.FixtureRequest) -> AsyncIterator[Hands]:
    found: Hands = (
        MemoryHands() if request.param == "memory"
        else DavHands(request.getfixturevalue(request.param))
    )
    yield found
    await found.aclose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'syncd.db'}"


@pytest.fixture
def shop(database_url: str, hands: Hands) -> Iterator[Shop]:
    runtime = migrated(settings_for(database_url, hands))
    yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()

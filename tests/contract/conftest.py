"""Fixtures for the contract suite: the event loop and the real servers (one each per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import server_families
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


@pytest.fixture(scope="session")
def cyrus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with server_families.start("cyrus", tmp_path_factory.mktemp("cyrus")) as server:
        yield server


@pytest.fixture(scope="session")
def davical(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with server_families.start("davical", tmp_path_factory.mktemp("davical")) as server:
        yield server

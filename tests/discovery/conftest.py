"""Fixtures for the discovery tests: the event loop, a DNS server of the test's own, and
each CalDAV server family (the session's, from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import server_families
from tests.discovery.dns_server import DnsServer
from tests.servers import DavServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture(params=sorted(server_families.FAMILIES))
def family_server(request: pytest.FixtureRequest) -> DavServer:
    """The session's server of each family in turn (radicale, xandikos, cyrus, davical)."""
    server: DavServer = request.getfixturevalue(request.param)
    return server

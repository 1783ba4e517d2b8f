from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from connectors.m365 import M365Connector
from tests.dbs import database_url
from tests.graph import GraphDouble
from tests.m365.support import m365_connector, new_mailbox

__all__ = ["database_url"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_double(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts without faults, latency or counters (the double is shared per module)."""
    if "double" not in request.fixturenames:
        yield
        return
    running: GraphDouble = request.getfixturevalue("double")
    running.faults.clear()
    running.latency_seconds = 0.0
    running.stats.reset()
    yield
    running.faults.clear()
    running.latency_seconds = 0.0


@pytest.fixture
def mailbox(double: GraphDouble) -> str:
    return new_mailbox(double)


@pytest.fixture
async def connector(double: GraphDouble, tmp_path: Path) -> AsyncIterator[M365Connector]:
    """A connector on the double that retries at once (a module may bring its own)."""
    made = m365_connector(double, directory=tmp_path, retry_base_seconds=0.01)
    yield made
    await made.aclose()

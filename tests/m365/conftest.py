from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dbs import database_url
from tests.graph import GraphDouble

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

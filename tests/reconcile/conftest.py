"""Fixtures: the hands on each calendar service (memory, and tests/conftest.py's servers),
a salon per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.dbs import MigratedSqlite
from tests.reconcile.hands import DavHands, Hands, MemoryHands
from tests.reconcile.shop import Shop, migrated, settings_for

SERVICES = ["memory", "radicale", "xandikos"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=SERVICES)
async def hands(request: pytest.FixtureRequest) -> AsyncIterator[Hands]:
    found: Hands = (
        MemoryHands() if request.param == "memory"
        else DavHands(request.getfixturevalue(request.param))
    )
    yield found
    await found.aclose()


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> str:
    """A migrated SQLite store (reconciling is tested on SQLite only)."""
    return migrated_sqlite.copy_into(tmp_path)


@pytest.fixture
def shop(database_url: str, hands: Hands) -> Iterator[Shop]:
    runtime = migrated(settings_for(database_url, hands))
    yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()

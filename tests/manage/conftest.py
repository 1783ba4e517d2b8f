from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.memory import MemoryConnector
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.dbs import database_url

__all__ = ["database_url"]


def manage_settings(database_url: str) -> Settings:
    return Settings.model_validate({
        "database": {"url": database_url},
        "manage": {"public_url": "https://book.example/", "busy_cache_seconds": 60},
        "connectors": {"local": {"kind": "memory"}},
    })


@pytest.fixture
def calendars() -> MemoryConnector:
    return MemoryConnector()


@pytest.fixture
def runtime(database_url: str, calendars: MemoryConnector) -> Iterator[Runtime]:
    """A migrated store (SQLite and PostgreSQL) whose calendars live in `calendars`."""
    runtime = build_runtime(manage_settings(database_url))
    upgrade(runtime.engine)
    runtime.connectors = {"local": calendars}
    yield runtime
    runtime.close()

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.dbs import database_url

__all__ = ["database_url"]


def fast_settings(database_url: str, connectors: dict[str, dict[str, object]]) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "worker": {
                "sweep_interval_seconds": 0.5,
                "max_attempts": 4,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "shutdown_timeout_seconds": 2,
            },
            "connectors": connectors,
        }
    )


@pytest.fixture
def memory_runtime(database_url: str) -> Iterator[Runtime]:
    """A migrated store (SQLite and PostgreSQL) whose calendars live in memory."""
    settings = fast_settings(database_url, {"local": {"kind": "memory"}})
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()

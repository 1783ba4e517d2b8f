from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.schema import upgrade


def fast_settings(database_url: str, connectors: dict[str, dict[str, object]]) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "worker": {
                "sweep_interval_seconds": 0.5,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "shutdown_timeout_seconds": 2,
            },
            "connectors": connectors,
        }
    )


@pytest.fixture
def memory_runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = fast_settings(f"sqlite:///{tmp_path}/syncd.db", {"local": {"kind": "memory"}})
    runtime = Runtime.from_settings(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()

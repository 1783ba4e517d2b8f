"""Fixtures for the contract suite: the event loop (the servers are tests/conftest.py's)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"

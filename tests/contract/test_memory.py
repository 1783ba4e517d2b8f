"""The contract suite against the in-memory reference connector."""

from __future__ import annotations

import pytest

from connectors.memory import MemoryConnector
from tests.contract.harness import MemoryHarness
from tests.contract.suite import CalendarContract, ChangeFeedContract


class TestMemoryCalendar(CalendarContract, ChangeFeedContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness(MemoryConnector().calendar("/alice/work/"))

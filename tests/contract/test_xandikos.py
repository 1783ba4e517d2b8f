"""The contract suite against a real Xandikos, through the CalDAV connector."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.harness import DavHarness, dav_harness
from tests.contract.suite import CalendarContract, ChangeFeedContract
from tests.servers import XandikosServer


class TestXandikosCalendar(CalendarContract, ChangeFeedContract):
    @pytest.fixture
    async def harness(self, xandikos: XandikosServer) -> AsyncIterator[DavHarness]:
        async for harness in dav_harness(xandikos):
            yield harness

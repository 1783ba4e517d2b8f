"""The contract suite against a real DAViCal, through the CalDAV connector."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.harness import DavHarness, dav_harness
from tests.contract.suite import CalendarContract, ChangeFeedContract
from tests.server_families import FAMILIES
from tests.servers import DavServer


class TestDAViCalCalendar(CalendarContract, ChangeFeedContract):
    @pytest.fixture
    async def harness(self, davical: DavServer) -> AsyncIterator[DavHarness]:
        async for harness in dav_harness(davical, FAMILIES["davical"].capabilities):
            yield harness

"""The contract suite against the Graph double, through the Microsoft 365 connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest

from connectors.m365.calendar import M365Calendar
from tests.contract.suite import CalendarContract
from tests.graph import GraphDouble
from tests.m365.support import GraphHarness, m365_connector, new_mailbox


@pytest.fixture(scope="module")
def graph_double() -> Iterator[GraphDouble]:
    with GraphDouble() as double:
        yield double


class TestM365Calendar(CalendarContract):
    @pytest.fixture
    async def harness(
        self, graph_double: GraphDouble, tmp_path: Path
    ) -> AsyncIterator[GraphHarness]:
        connector = m365_connector(graph_double, directory=tmp_path)
        mailbox = new_mailbox(graph_double)
        try:
            calendar = cast(M365Calendar, connector.calendar(mailbox))
            yield GraphHarness(calendar, graph_double, mailbox)
        finally:
            await connector.aclose()

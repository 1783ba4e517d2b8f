"""The change-feed contract against the Graph double, through the Microsoft 365 connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import cast

import pytest

from connectors.m365.calendar import M365Calendar
from tests.contract.suite import ChangeFeedContract
from tests.graph import GraphDouble
from tests.m365.support import GraphHarness, m365_connector, new_mailbox


class GraphFeedHarness(GraphHarness):
    """Changes by hand as staff make them in Outlook; a refused cursor is an expired token."""

    async def move_by_hand(self, remote_id: str, start: datetime, end: datetime) -> None:
        self.double.edit_event(self.mailbox, remote_id, start=start, end=end)

    async def delete_by_hand(self, remote_id: str) -> None:
        self.double.delete_event_by_hand(self.mailbox, remote_id)

    def refused_cursor(self, cursor: str) -> str:
        self.double.expire_delta_tokens()
        return cursor


@pytest.fixture(scope="module")
def graph_double() -> Iterator[GraphDouble]:
    with GraphDouble() as double:
        yield double


@pytest.fixture(params=[2, 100], ids=["pages-of-2", "pages-of-100"])
def page_size(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class TestM365ChangeFeed(ChangeFeedContract):
    @pytest.fixture
    async def harness(
        self,
        graph_double: GraphDouble,
        tmp_path: Path,
        page_size: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> AsyncIterator[GraphFeedHarness]:
        monkeypatch.setattr("connectors.m365.delta.PAGE_SIZE", page_size)
        connector = m365_connector(graph_double, directory=tmp_path)
        mailbox = new_mailbox(graph_double)
        try:
            calendar = cast(M365Calendar, connector.calendar(mailbox))
            yield GraphFeedHarness(calendar, graph_double, mailbox)
        finally:
            await connector.aclose()

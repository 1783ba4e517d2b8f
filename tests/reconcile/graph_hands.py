"""Staff mailboxes on the Graph double, and the hands of staff changing them in Outlook.

The `Hands` of tests/reconcile/hands.py for Microsoft 365: syncd's worker gets
the m365 connector, and a test drags, deletes or adds events as staff would
(the double gives each change a new changeKey, as Exchange does).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.m365 import M365Connector, Settings, build
from connectors.m365.events import booking_key_of, parse_time
from tests.graph import GraphDouble
from tests.m365.support import connector_table, new_mailbox

Times = tuple[datetime, datetime]


class GraphHands:
    name = "graph"

    def __init__(self, double: GraphDouble, directory: Path, **table: Any) -> None:
        self.double = double
        self.table = connector_table(double, directory=directory, **table)
        self.connector: M365Connector = build(Settings.model_validate(self.table))

    def settings(self) -> dict[str, Any]:
        return self.table

    def new_calendar(self) -> str:
        return new_mailbox(self.double)

    async def move(self, calendar_id: str, href: str, start: datetime, end: datetime) -> None:
        self.double.edit_event(calendar_id, href, start=start, end=end)

    async def delete(self, calendar_id: str, href: str) -> None:
        self.double.delete_event_by_hand(calendar_id, href)

    async def add_foreign(
        self, calendar_id: str, name: str, start: datetime, end: datetime, *, busy: bool = True
    ) -> str:
        show_as = "busy" if busy else "free"
        return self.double.add_foreign_event(calendar_id, name, start, end, show_as=show_as)

    async def events(self, calendar_id: str) -> dict[str, Times]:
        """Booking key (else iCalUId) → (start, end) of every event in the mailbox."""
        return {
            booking_key_of(event) or str(event["iCalUId"]):
                (parse_time(event["start"]), parse_time(event["end"]))
            for event in self.double.events(calendar_id)
        }

    def refused_cursor(self, calendar_id: str, cursor: str) -> str:
        self.double.expire_delta_tokens()
        return cursor

    async def aclose(self) -> None:
        await self.connector.aclose()

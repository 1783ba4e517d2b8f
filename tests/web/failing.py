"""Calendar services that are down: every busy-time read fails, or stops answering."""

from __future__ import annotations

import asyncio
from datetime import datetime

from connectors.base import BusyInterval
from connectors.memory import MemoryCalendar, MemoryConnector
from syncd.errors import FailureScope, TransientError


class UnreadableCalendar(MemoryCalendar):
    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        raise TransientError("503 from the calendar server", scope=FailureScope.CALENDAR)


class StallingCalendar(MemoryCalendar):
    """Answers busy-time reads until `stalled`, then never (a server that stopped answering)."""

    stalled = False

    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        if self.stalled:
            await asyncio.Event().wait()
        return await super().busy_time(start, end)


class StallingConnector(MemoryConnector):
    def calendar(self, calendar_id: str) -> MemoryCalendar:
        return self.calendars.setdefault(calendar_id, StallingCalendar(calendar_id))


class UnreadableConnector(MemoryConnector):
    def calendar(self, calendar_id: str) -> MemoryCalendar:
        return self.calendars.setdefault(calendar_id, UnreadableCalendar(calendar_id))

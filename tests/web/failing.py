"""A calendar service that is down: every busy-time read fails as a real outage would."""

from __future__ import annotations

from datetime import datetime

from connectors.base import BusyInterval
from connectors.memory import MemoryCalendar, MemoryConnector
from syncd.errors import FailureScope, TransientError


class UnreadableCalendar(MemoryCalendar):
    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        raise TransientError("503 from the calendar server", scope=FailureScope.CALENDAR)


class UnreadableConnector(MemoryConnector):
    def calendar(self, calendar_id: str) -> MemoryCalendar:
        return self.calendars.setdefault(calendar_id, UnreadableCalendar(calendar_id))

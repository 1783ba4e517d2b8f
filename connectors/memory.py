"""An in-memory calendar service: the contract's reference implementation.

Used by the unit tests and the contract suite; it keeps the same precondition
rules as a real server, so code tested against it behaves the same on one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import (
    BusyInterval,
    Calendar,
    Connector,
    EventSpec,
    RemoteEvent,
    RemoteRef,
)
from syncd.errors import PreconditionFailed, RemoteNotFound


@dataclass
class StoredEvent:
    etag: str
    booking_key: str | None
    summary: str
    start: datetime
    end: datetime
    busy: bool = True


@dataclass
class MemoryCalendar(Calendar):
    calendar_id: str
    events: dict[str, StoredEvent] = field(default_factory=dict)
    _etags: itertools.count[int] = field(default_factory=itertools.count)

    def _next_etag(self) -> str:
        return f'"{next(self._etags)}"'

    def _href(self, booking_key: str) -> str:
        return f"{self.calendar_id.rstrip('/')}/{booking_key}.ics"

    def _stored(self, event: EventSpec) -> StoredEvent:
        return StoredEvent(
            self._next_etag(), event.booking_key, event.summary, event.start, event.end
        )

    def _check(self, ref: RemoteRef) -> None:
        current = self.events.get(ref.remote_id)
        if current is None:
            raise RemoteNotFound(ref.remote_id)
        if ref.etag is not None and ref.etag != current.etag:
            raise PreconditionFailed(ref.remote_id)

    async def create(self, event: EventSpec) -> RemoteRef:
        href = self._href(event.booking_key)
        if href in self.events:
            raise PreconditionFailed(href)
        self.events[href] = self._stored(event)
        return RemoteRef(href, self.events[href].etag)

    async def update(self, ref: RemoteRef, event: EventSpec) -> RemoteRef:
        self._check(ref)
        self.events[ref.remote_id] = self._stored(event)
        return RemoteRef(ref.remote_id, self.events[ref.remote_id].etag)

    async def delete(self, ref: RemoteRef) -> None:
        self._check(ref)
        del self.events[ref.remote_id]

    async def find_by_booking(self, booking_key: str) -> RemoteEvent | None:
        for href, stored in self.events.items():
            if stored.booking_key == booking_key:
                return _remote_event(href, stored)
        return None

    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        return sorted(
            (BusyInterval(e.start, e.end) for e in self.events.values()
             if e.busy and e.start < end and e.end > start),
            key=lambda interval: interval.start,
        )

    def add_foreign_event(self, name: str, start: datetime, end: datetime, *, busy: bool) -> str:
        """Put an event syncd did not write on the calendar, as a person would."""
        href = f"{self.calendar_id.rstrip('/')}/{name}.ics"
        self.events[href] = StoredEvent(self._next_etag(), None, name, start, end, busy)
        return href


def _remote_event(href: str, stored: StoredEvent) -> RemoteEvent:
    return RemoteEvent(
        RemoteRef(href, stored.etag), stored.booking_key, stored.summary,
        stored.start, stored.end, stored.busy,
    )


class MemoryConnector(Connector):
    """Calendars held in this process; created on first use."""

    def __init__(self, concurrency_per_calendar: int = 4) -> None:
        self.concurrency_per_calendar = concurrency_per_calendar
        self.calendars: dict[str, MemoryCalendar] = {}

    def calendar(self, calendar_id: str) -> MemoryCalendar:
        return self.calendars.setdefault(calendar_id, MemoryCalendar(calendar_id))

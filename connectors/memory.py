"""An in-memory calendar service: the contract's reference implementation.

Used by the unit tests and the contract suite; it keeps the same precondition
rules as a real server, so code tested against it behaves the same on one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import (
    BusyInterval,
    Calendar,
    ChangeSet,
    ChangeWindow,
    Connector,
    EventSpec,
    ObservedEvent,
    RemoteEvent,
    RemoteRef,
)
from connectors.errors import PreconditionFailed, RemoteNotFound


@dataclass
class StoredEvent:
    etag: str
    booking_key: str | None
    summary: str
    start: datetime
    end: datetime
    busy: bool = True
    cancelled: bool = False

    @property
    def changed_at(self) -> int:
        """Its place in the calendar's history: etags are drawn from one rising counter."""
        return int(self.etag.strip('"'))


@dataclass
class MemoryCalendar(Calendar):
    calendar_id: str
    events: dict[str, StoredEvent] = field(default_factory=dict)
    _etags: itertools.count[int] = field(default_factory=itertools.count)
    # the change feed: when each href was deleted, and which cursors are still good
    deleted_at: dict[str, int] = field(default_factory=dict)
    cursor_generation: int = 0

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
        self._remove(ref.remote_id)

    def _remove(self, href: str) -> None:
        del self.events[href]
        self.deleted_at[href] = next(self._etags)

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
        self.deleted_at.pop(href, None)
        return href

    def edit_event(
        self,
        href: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        busy: bool | None = None,
        cancelled: bool | None = None,
    ) -> None:
        """Change an event by hand, as a person would; what is not given stays."""
        old = self.events[href]
        self.events[href] = replace(
            old,
            etag=self._next_etag(),
            start=start or old.start,
            end=end or old.end,
            busy=old.busy if busy is None else busy,
            cancelled=old.cancelled if cancelled is None else cancelled,
        )

    def remove_event(self, href: str) -> None:
        """Delete an event by hand, as a person would."""
        self._remove(href)

    def expire_cursors(self) -> None:
        """Refuse every cursor given out so far, as a server that forgot its sync state."""
        self.cursor_generation += 1

    async def changes(
        self, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
    ) -> ChangeSet:
        since = self._accepted(cursor)
        now = self._cursor()
        if since is None:
            reason = None if cursor is None else "cursor refused"
            return self._listing(window, known, now, reason)
        changed = [
            _observed(href, e, window) for href, e in self.events.items()
            if e.changed_at > since and known.get(href, "") != e.etag
        ]
        removed = frozenset(
            href for href, at in self.deleted_at.items() if at > since and href not in self.events
        )
        return ChangeSet(now, complete=False, changed=tuple(changed), removed=removed,
                         exact_removals=True)

    def _cursor(self) -> str:
        return f"{self.cursor_generation}:{next(self._etags)}"

    def _accepted(self, cursor: str | None) -> int | None:
        generation, _, position = (cursor or "").partition(":")
        if generation != str(self.cursor_generation) or not position.isdigit():
            return None
        return int(position)

    def _listing(
        self, window: ChangeWindow, known: Mapping[str, str | None], cursor: str,
        reason: str | None,
    ) -> ChangeSet:
        wanted = [
            (href, e) for href, e in self.events.items()
            if (href in known or (e.start < window.end and e.end > window.start))
            and known.get(href, "") != e.etag
        ]
        changed = tuple(_observed(href, e, window) for href, e in wanted)
        removed = frozenset(href for href in known if href not in self.events)
        return ChangeSet(cursor, complete=True, changed=changed, removed=removed,
                         reset_reason=reason, exact_removals=True)


def _observed(href: str, stored: StoredEvent, window: ChangeWindow) -> ObservedEvent:
    busy = stored.busy and not stored.cancelled
    own = window.clip(BusyInterval(stored.start, stored.end)) if busy else None
    return ObservedEvent(
        ref=RemoteRef(href, stored.etag),
        booking_key=stored.booking_key,
        uid=stored.booking_key or href.rsplit("/", 1)[-1].removesuffix(".ics"),
        start=stored.start,
        end=stored.end,
        busy=busy,
        cancelled=stored.cancelled,
        intervals=() if own is None else (own,),
    )


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

    async def check(self) -> None:
        """Nothing to reach and no credentials: the calendars live in this process."""

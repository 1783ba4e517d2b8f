"""The double's mailboxes, calendars and events, shared by the server thread and the test.

Every access goes through `Store.lock` (an RLock): handlers run on the server's event
loop thread while tests call `GraphDouble.events()` or `edit_event()` from theirs.
Each mailbox numbers its changes (`seq`) so delta queries and subscriptions can tell
what changed since when; deleted events leave a tombstone with the sequence number
of their deletion.

Deleting an event moves it to the mailbox's Deleted Items folder, as Exchange does
(learn.microsoft.com: event-delete; outlook-immutable-id: an immutable id survives
the move): it leaves its calendar (a tombstone there, a "deleted" notification) but
keeps its id, and mailbox-wide reads (/users/{id}/events[/{id}]) still find it.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

ChangeListener = Callable[["Mailbox", "Event", str], None]  # (mailbox, event, changeType)


def new_item_id() -> str:
    """An opaque id in the style of Exchange's base64 item ids (URL-safe, no "/")."""
    return "AAMkA" + secrets.token_urlsafe(33) + "="


def new_change_key() -> str:
    return "DwAAABYAAA" + secrets.token_urlsafe(18)


@dataclass
class Calendar:
    id: str
    name: str
    is_default: bool = False


@dataclass
class Event:
    id: str
    calendar_id: str
    start: datetime  # aware, UTC
    start_zone: str
    end: datetime
    end_zone: str
    fields: dict[str, Any]  # the other writable properties, as last written
    extended: dict[str, tuple[str, str]]  # canonical property id -> (id as written, value)
    transaction_id: str | None
    created: datetime
    ical_uid: str = field(
        default_factory=lambda: "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper()
    )
    change_key: str = field(default_factory=new_change_key)
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    seq: int = 0
    recurrence: dict[str, Any] | None = None
    deleted_occurrences: set[date] = field(default_factory=set)

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'

    def touch(self, seq: int) -> None:
        self.change_key = new_change_key()
        self.modified = datetime.now(UTC)
        self.seq = seq


@dataclass
class Tombstone:
    event_id: str
    calendar_id: str
    seq: int


@dataclass
class Mailbox:
    id: str
    upn: str
    timezone: str
    calendars: dict[str, Calendar] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    tombstones: list[Tombstone] = field(default_factory=list)
    seq: int = 0
    deleted_items: str = field(default_factory=new_item_id)  # the Deleted Items folder's id

    @property
    def default_calendar(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.is_default)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def by_transaction_id(self, transaction_id: str) -> Event | None:
        return next((e for e in self.events.values() if e.transaction_id == transaction_id), None)

    def is_deleted(self, event: Event) -> bool:
        return event.calendar_id == self.deleted_items

    def in_calendars(self) -> list[Event]:
        """The events of the mailbox's calendars (not those in Deleted Items)."""
        return [e for e in self.events.values() if not self.is_deleted(e)]


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self._by_upn: dict[str, str] = {}
        self.listeners: list[ChangeListener] = []

    def add_mailbox(
        self, upn: str, timezone: str = "UTC", mailbox_id: str | None = None
    ) -> Mailbox:
        with self.lock:
            existing = self.find(upn)
            if existing is not None:
                return existing
            mailbox = Mailbox(mailbox_id or str(uuid.uuid4()), upn, timezone)
            calendar = Calendar(new_item_id(), "Calendar", is_default=True)
            mailbox.calendars[calendar.id] = calendar
            self.mailboxes[mailbox.id] = mailbox
            self._by_upn[upn.lower()] = mailbox.id
            return mailbox

    def find(self, user: str) -> Mailbox | None:
        """The mailbox a /users/{id | userPrincipalName} segment names (ignoring case)."""
        with self.lock:
            key = user.lower()
            mailbox_id = self._by_upn.get(key, key)
            return self.mailboxes.get(mailbox_id)

    def resolve(self, user: str) -> Mailbox:
        """The mailbox for `user`, created on first use (a GUID becomes its id)."""
        with self.lock:
            found = self.find(user)
            if found is not None:
                return found
            if _is_guid(user):
                return self.add_mailbox(f"{user.lower()}@double.test", mailbox_id=user.lower())
            return self.add_mailbox(user)

    def add_calendar(self, mailbox: Mailbox, name: str) -> Calendar:
        with self.lock:
            calendar = Calendar(new_item_id(), name)
            mailbox.calendars[calendar.id] = calendar
            return calendar

    def insert(self, mailbox: Mailbox, event: Event) -> Event:
        with self.lock:
            event.seq = mailbox.next_seq()
            mailbox.events[event.id] = event
        self._notify(mailbox, event, "created")
        return event

    def changed(self, mailbox: Mailbox, event: Event) -> None:
        """Record that `event` was modified in place (new changeKey and sequence number)."""
        with self.lock:
            event.touch(mailbox.next_seq())
        self._notify(mailbox, event, "updated")

    def remove(self, mailbox: Mailbox, event: Event) -> None:
        """Move `event` to Deleted Items: gone from its calendar, same id, still readable."""
        with self.lock:
            if mailbox.is_deleted(event):
                mailbox.events.pop(event.id, None)  # deleted from Deleted Items: gone for good
                return
            mailbox.tombstones.append(Tombstone(event.id, event.calendar_id, mailbox.next_seq()))
            self._notify(mailbox, event, "deleted")  # told of the calendar it left
            event.calendar_id = mailbox.deleted_items
            event.touch(mailbox.seq)

    def _notify(self, mailbox: Mailbox, event: Event, change_type: str) -> None:
        for listener in list(self.listeners):
            listener(mailbox, event, change_type)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36

"""The contract every calendar connector implements.

A connector is one account on one calendar service (a CalDAV server with its
credentials, a Microsoft 365 tenant). `Connector.calendar(calendar_id)` gives a
`Calendar`: one collection or mailbox calendar, the unit syncd leases and
rate-limits.

Semantics every implementation must keep (the contract suite in
tests/contract checks them against every connector):

- `create` never overwrites: if an event for the booking already exists it
  raises `PreconditionFailed` and leaves the remote event untouched.
- `update` and `delete` are conditional on `ref.etag` when it is known: a
  changed remote object raises `PreconditionFailed`; a missing one raises
  `RemoteNotFound`.
- `find_by_booking` finds syncd's event for a booking from what is stored in
  the event itself (UID or tag), so links are rebuilt after syncd's state is lost.
- `busy_time` returns every busy interval in the range or raises: a failure is
  never reported as free time.

Every error leaving a connector is one of `syncd.errors.RemoteError`'s subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"  # a booking still waiting for the merchant's approval


@dataclass(frozen=True)
class EventSpec:
    """What syncd wants a booking's event to look like. Times are aware UTC."""

    booking_key: str  # stable identity of the booking, stored inside the event
    summary: str
    start: datetime
    end: datetime
    timezone: str  # IANA zone the event is shown in (the staff member's)
    sequence: int  # increases whenever time or status changes
    status: EventStatus = EventStatus.CONFIRMED
    description: str = ""
    location: str = ""


@dataclass(frozen=True)
class RemoteRef:
    """Where an event lives on the server and which version of it we know."""

    remote_id: str  # CalDAV: href of the object; Graph: event id
    etag: str | None


@dataclass(frozen=True)
class RemoteEvent:
    """An event as read back from the server."""

    ref: RemoteRef
    booking_key: str | None  # None for events syncd did not write
    summary: str
    start: datetime
    end: datetime
    busy: bool = True


@dataclass(frozen=True)
class BusyInterval:
    start: datetime
    end: datetime


class Calendar(ABC):
    """One calendar (collection or mailbox calendar) reached through a connector."""

    calendar_id: str

    @abstractmethod
    async def create(self, event: EventSpec) -> RemoteRef:
        """Create the booking's event; `PreconditionFailed` if one already exists."""

    @abstractmethod
    async def update(self, ref: RemoteRef, event: EventSpec) -> RemoteRef:
        """Replace the event at `ref`, conditional on `ref.etag` when known."""

    @abstractmethod
    async def delete(self, ref: RemoteRef) -> None:
        """Delete the event at `ref`, conditional on `ref.etag` when known."""

    @abstractmethod
    async def find_by_booking(self, booking_key: str) -> RemoteEvent | None:
        """The event syncd wrote for this booking, or None."""

    @abstractmethod
    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """Every busy interval overlapping [start, end); raises rather than guess."""


class Connector(ABC):
    """An account on a calendar service, shared by the calendars bound to it."""

    #: Most requests syncd may have in flight against one calendar at a time.
    concurrency_per_calendar: int = 4

    @abstractmethod
    def calendar(self, calendar_id: str) -> Calendar:
        """A handle on one calendar; cheap, makes no request."""

    async def aclose(self) -> None:  # noqa: B027 - most connectors hold nothing
        """Release connections; the connector is not used afterwards."""

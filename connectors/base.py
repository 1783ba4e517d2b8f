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
  never reported as free time. `busy_within` is the same read bounded in time
  (a customer waiting on a confirmation): one targeted read of the interval (a
  time-range calendar-query on CalDAV, a calendarView on Graph), and
  `TransientError` when the answer does not come within the seconds given.
- `changes` is the calendar's change feed (see "Watching a calendar" below).

Every error leaving a connector is one of `connectors.errors.RemoteError`'s subclasses.

Watching a calendar
-------------------

`Calendar.changes(cursor, window, known)` answers "what is different since
last time?" with a `ChangeSet`. The caller (syncd/reconcile) keeps the cursor
and the window between passes and hands them back unchanged:

- `cursor` is opaque: whatever the last `ChangeSet.cursor` was, or None the
  first time. A cursor is only ever passed back with the window it was made
  for; when syncd moves its window it passes None. It also passes None at
  least every `reconcile.full_listing_interval`: some servers (DAViCal) answer
  a stale or unknown cursor as if it were current and leave out deletions.
- With a cursor the service accepts, the answer is a *delta*
  (`complete=False`): `changed` holds the current content of every event
  created or modified since the cursor, `removed` the remote ids that are no
  longer visible (deleted, or, for services whose feed is windowed, moved out
  of the window; `exact_removals` says the feed knows the difference, else
  syncd looks its own events up with `find_by_booking` before calling them
  deleted).
- With None, or a cursor the service refuses (expired, invalid, any error of
  the feed itself that is not transient or auth), the answer is a *complete
  listing* (`complete=True`, `reset_reason` says why when a cursor was
  refused): `changed` holds every event in the window whose etag differs from
  `known`, `removed` every id of `known` that the service no longer shows.
  A refused cursor is never taken to mean "nothing changed".
- `known` maps the remote ids syncd already holds to the etag it holds for
  them. An entry whose etag is unchanged need not be fetched or returned, so
  replayed or duplicated feed entries cost nothing.
- Events of `changed` are complete (`ObservedEvent`): recurring events are
  expanded into `intervals` within the window; `busy` is False for
  transparent / free events. An event that cannot be read is listed in
  `unreadable` rather than failing the whole feed.
- Transient failures and refused credentials raise as everywhere else; the
  caller keeps its old cursor and tries again, so a feed entry may be seen
  twice: consumers treat the feed as idempotent.

How the services map onto it:

- CalDAV (connectors/caldav/sync.py): the cursor is an RFC 6578 sync-token.
  A delta is one sync-collection REPORT asking for etags and calendar data
  (Radicale sends the data, Xandikos does not), plus calendar-multiget REPORTs
  (in batches) of the new hrefs that came without it; 404 entries are
  `removed`, and they are exact (`exact_removals`: the feed has no window). A
  refused token (403/409/412 valid-sync-token, or any non-transient error)
  and the first pass make a complete listing: a sync-collection with an empty
  token (every href with its etag, and a fresh token) plus a calendar-query
  for the etags in the window, then a multiget of what is new. A server
  without sync-collection gets the same listing from PROPFIND Depth 1 on every
  pass (cursor None).
- Microsoft Graph: the cursor is the deltaLink of
  `/users/{id}/calendarView/delta?startDateTime=&endDateTime=` (the window is
  fixed in it, which is why a new window means cursor None). None starts a new
  delta round; its pages (nextLink) up to the deltaLink are one complete
  listing. A delta round with the deltaLink gives `changed` (occurrences of a
  series come as their own items, each with its own id and one interval) and
  `@removed` entries as `removed` (`exact_removals=False`: an event moved out
  of the window is reported removed too). 410 Gone / `syncStateNotFound` is a
  refused cursor: start a new round, `complete=True`. `showAs: free` means
  `busy=False`; `isCancelled` means `cancelled=True`; the booking key comes
  from the singleValueExtendedProperty, `uid` from `iCalUId`; `etag` is
  `@odata.etag` (or changeKey).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from connectors.errors import TransientError
from connectors.push import ChangeSubscriptions


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
    # the create lineage: a new one each time the booking's event was found gone, so a
    # deliberate re-create is a new request while a retried create repeats itself
    generation: int = 0


@dataclass(frozen=True)
class RemoteRef:
    """Where an event lives on the server and which version of it we know."""

    remote_id: str  # CalDAV: href of the object; Graph: event id
    etag: str | None  # exactly as the server gave it: sent back as such in If-Match

    def same_version(self, other: RemoteRef) -> bool:
        """Whether both name one object in one version (etags compared weakly)."""
        return self.remote_id == other.remote_id and same_etag(self.etag, other.etag)


def same_etag(one: str | None, other: str | None) -> bool:
    """Whether two etags name one version: RFC 9110's weak comparison.

    Servers give one object's etag weak or strong depending on the request
    (Cyrus: weak for a gzip-encoded GET, strong after a PUT); both forms of one
    value mean one version. An unknown etag matches nothing.
    """
    if one is None or other is None:
        return False
    return one.removeprefix("W/") == other.removeprefix("W/")


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


@dataclass(frozen=True)
class ChangeWindow:
    """The time range a calendar is watched in (foreign busy time, expansion of series)."""

    start: datetime
    end: datetime

    def clip(self, interval: BusyInterval) -> BusyInterval | None:
        """`interval` cut to the window, or None when it lies outside."""
        start, end = max(interval.start, self.start), min(interval.end, self.end)
        return BusyInterval(start, end) if start < end else None


@dataclass(frozen=True)
class ObservedEvent:
    """An event as the change feed shows it. Times are aware UTC."""

    ref: RemoteRef
    booking_key: str | None  # syncd's tag (CalDAV X-SYNCD-BOOKING, Graph extended property)
    uid: str | None  # the iCalendar UID (Graph: iCalUId); syncd's events use the booking key
    start: datetime  # of the event itself (a series: its first occurrence)
    end: datetime
    busy: bool = True  # False: TRANSP:TRANSPARENT, STATUS:CANCELLED, Graph showAs free
    cancelled: bool = False  # STATUS:CANCELLED, Graph isCancelled
    recurring: bool = False
    # every occurrence overlapping the window, cut to it; empty when none does
    intervals: tuple[BusyInterval, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    """What can be told of an event the feed could not read: why, and what names it (as
    written on the calendar, unchecked: the caller cleans and shortens it before showing it)."""

    reason: str
    uid: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """One answer of a calendar's change feed; see "Watching a calendar" above."""

    cursor: str | None  # pass it back next time; None: this calendar can only be listed
    complete: bool  # a complete listing of the window, not a delta
    changed: tuple[ObservedEvent, ...] = ()
    removed: frozenset[str] = frozenset()
    unreadable: tuple[RemoteRef, ...] = ()  # present, but their data could not be read
    unreadable_details: Mapping[str, Unreadable] = field(default_factory=dict)  # by remote id
    reset_reason: str | None = None  # why a given cursor was refused
    # True when `removed` holds only deleted objects, never ones merely out of the window
    # (CalDAV: the feed is not windowed); else the caller looks its own events up
    exact_removals: bool = False
    # read the feed again within this many seconds, whatever the usual interval: set by a
    # connector whose change notifications do not cover this calendar
    poll_within_seconds: float | None = None


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

    async def busy_within(
        self, start: datetime, end: datetime, seconds: float
    ) -> list[BusyInterval]:
        """`busy_time`, or `TransientError` when it takes longer than `seconds` (retries
        and waits for the calendar's rate limit included)."""
        try:
            async with asyncio.timeout(seconds):
                return await self.busy_time(start, end)
        except TimeoutError as late:
            raise TransientError(f"busy time not read within {seconds:g} s") from late

    async def booking_events(self) -> dict[str, RemoteRef] | None:
        """Every event of the calendar by the booking key (UID or tag) it carries.

        Asked once before the first writes to a calendar whose contents syncd
        cannot know (a new binding, a rebuilt store, a restarted worker): an
        event found here is adopted rather than written a second time. None: the
        connector has no such listing, and its creates find events themselves
        (Graph: the transactionId and the tag).
        """
        return None

    async def changes(
        self, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
    ) -> ChangeSet:
        """What changed since `cursor` (a complete listing when None or refused).

        `known` maps remote ids to the etags the caller holds. A connector that
        cannot watch its calendars leaves this as it is; the caller then skips
        reconciliation for them.
        """
        raise NotImplementedError(f"{type(self).__name__} has no change feed")

    def change_subscriptions(self) -> ChangeSubscriptions | None:
        """Subscriptions to the changes the service pushes (connectors/push.py); None: it
        pushes none, and the calendar is polled only."""
        return None


class Connector(ABC):
    """An account on a calendar service, shared by the calendars bound to it."""

    #: Most requests syncd may have in flight against one calendar at a time.
    concurrency_per_calendar: int = 4

    @abstractmethod
    def calendar(self, calendar_id: str) -> Calendar:
        """A handle on one calendar; cheap, makes no request."""

    def lease_key(self, calendar_id: str) -> str:
        """What the calendar shares its limits with: calendars of one key are served by
        one worker at a time (syncd/store/leases.py). Most services: the calendar alone."""
        return f"calendar:{calendar_id}"

    def calendar_id_problem(self, calendar_id: str) -> str | None:
        """Why `calendar_id` cannot name a calendar of this account (None: it can).
        Checked before a binding is stored and by `syncd check --online`."""
        del calendar_id
        return None

    async def check(self) -> None:
        """Verify the service is reachable and takes the credentials, with one cheap
        request (`syncd check --online`). Raises `AuthError` for refused credentials,
        `TransientError` when unreachable, another `RemoteError` for anything else."""
        raise NotImplementedError(f"{type(self).__name__} cannot be checked online")

    async def aclose(self) -> None:  # noqa: B027 - most connectors hold nothing
        """Release connections; the connector is not used afterwards."""

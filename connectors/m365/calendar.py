"""One mailbox calendar on Microsoft Graph, implementing the connector contract.

Calendar ids in bindings are `<user>` for the user's default calendar or
`<user>/<calendar id>` for another of their calendars; `<user>` is the user's
principal name (anna@contoso.com) or object id. Use one form per mailbox: the
per-mailbox limits are kept per spelling. A delegated account (one user's
sign-in) names its user `me`: `me` and `me/<calendar id>` go to Graph's `/me`.

Only documented request forms are relied on. Events are addressed through their
calendar (`<calendar>/events/{id}`): a deleted event sits in Deleted Items with
the same immutable id, where the mailbox-wide `/events/{id}` still reaches it.
The booking tag is searched with `$filter` on `/users/{id}/events` (where it is
documented), and each match is read through this calendar with `$expand` (which
is documented on single events): a match elsewhere is not this calendar's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.base import (
    BusyInterval,
    Calendar,
    ChangeSet,
    ChangeWindow,
    EventSpec,
    RemoteEvent,
    RemoteRef,
)
from connectors.errors import PermanentError, PreconditionFailed
from connectors.m365 import delta, events
from connectors.m365.batch import Batcher
from connectors.m365.events import GraphEvent, Reminder
from connectors.m365.http import GraphRequest, GraphResponse, error_for
from connectors.m365.subscriptions import MailboxSubscriptions

_HEADERS = {"Prefer": events.PREFER}
_VIEW_SELECT = "showAs,start,end,isCancelled"
_PAGE_SIZE = 250


@dataclass(frozen=True)
class CalendarTarget:
    """Where a calendar id points: a mailbox, and one of its calendars (None: the default)."""

    mailbox: str
    calendar: str | None

    @classmethod
    def parse(cls, calendar_id: str, *, delegated: bool = False) -> CalendarTarget:
        """`delegated`: the account is one user's sign-in, which reaches `me` only."""
        user, _, calendar = calendar_id.partition("/")
        if not user or any(c.isspace() for c in calendar_id) or (calendar_id.endswith("/")):
            raise PermanentError(
                f"calendar id {calendar_id!r} is not <user> or <user>/<calendar id>"
            )
        if delegated and user.lower() != "me":
            raise PermanentError(
                f"calendar id {calendar_id!r}: a signed-in account reaches its own "
                "calendars only, me or me/<calendar id>"
            )
        if not delegated and user.lower() == "me":
            raise PermanentError(
                f"calendar id {calendar_id!r}: me names the signed-in user, and this "
                "account signs in as the app: name the mailbox"
            )
        return cls(user, calendar or None)

    @property
    def is_me(self) -> bool:
        return self.mailbox.lower() == "me"

    @property
    def mailbox_key(self) -> str:
        """The mailbox's key for its limits: principal names are case-insensitive."""
        return self.mailbox.lower()

    @property
    def _user_path(self) -> str:
        return "/me" if self.is_me else f"/users/{quote(self.mailbox, safe='@')}"

    @property
    def calendars_path(self) -> str:
        """The mailbox's calendars (GET lists them)."""
        return f"{self._user_path}/calendars"

    @property
    def _calendar_path(self) -> str:
        if self.calendar is None:
            return f"{self._user_path}/calendar"
        return f"{self.calendars_path}/{quote(self.calendar, safe='')}"

    @property
    def events_path(self) -> str:
        return f"{self._calendar_path}/events"

    @property
    def view_path(self) -> str:
        return f"{self._calendar_path}/calendarView"

    @property
    def mailbox_events_path(self) -> str:
        return f"{self._user_path}/events"

    @property
    def is_default(self) -> bool:
        return self.calendar is None

    @property
    def delta_path(self) -> str:
        """event-delta documents /users/{id}/calendarView/delta, the primary calendar's only."""
        if self.is_default:
            return f"{self._user_path}/calendarView/delta"
        return f"{self.view_path}/delta"

    def event_path(self, event_id: str) -> str:
        """The event through its calendar: a deleted event (in Deleted Items, same immutable
        id) is 404 here, where the mailbox-wide /events/{id} would still update it."""
        return f"{self.events_path}/{quote(event_id, safe='')}"


class M365Calendar(Calendar):
    """A mailbox calendar; every request goes through its mailbox's batcher."""

    def __init__(
        self,
        calendar_id: str,
        target: CalendarTarget,
        batcher: Batcher,
        reminder: Reminder,
        link_to_path: Callable[[str], str],
        *,
        poll_seconds: float | None = None,
    ) -> None:
        self.calendar_id = calendar_id
        self.target = target
        self._batcher = batcher
        self._reminder = reminder
        self._relative = link_to_path  # absolute nextLink -> path under the Graph root
        # change notifications do not tell of other calendars: read them this often
        self._poll_seconds = None if target.is_default else poll_seconds

    async def _call(
        self, method: str, url: str, body: Any = None, etag: str | None = None
    ) -> GraphResponse:
        headers = {**_HEADERS, "If-Match": etag} if etag else _HEADERS
        request = GraphRequest(method, url, headers, body)
        answer = await self._batcher.send(request)
        if not answer.ok:
            raise error_for(answer, request)
        return answer

    async def create(self, event: EventSpec) -> RemoteRef:
        """Create the booking's event in one request; `PreconditionFailed` if it existed.

        The POST carries a transactionId derived from calendar and booking, so
        Graph answers a repeated create with the event made the first time
        rather than a second one. The answer tells which happened: an event
        that does not show exactly what was sent existed before (an earlier
        version of the booking, or edited by hand) and is left as it is, as
        the contract asks. An identical one is the event syncd wants either
        way (made now, or by a create whose answer was lost), and is returned.
        A lookup by extended property before every create would find the same
        events at the price of a second request per booking.
        """
        body = {
            **events.event_body(event, self._reminder),
            "transactionId": events.transaction_id(
                self.calendar_id, event.booking_key, event.generation
            ),
        }
        answer = await self._call("POST", self.target.events_path, body)
        created = events.parse_event(answer.body)
        if not created.shows(event):
            raise PreconditionFailed(f"an event for booking {event.booking_key} exists already")
        return created.ref

    async def update(self, ref: RemoteRef, event: EventSpec) -> RemoteRef:
        body = events.event_body(event, self._reminder)
        answer = await self._call("PATCH", self.target.event_path(ref.remote_id), body, ref.etag)
        return events.event_ref(answer.body)

    async def delete(self, ref: RemoteRef) -> None:
        await self._call("DELETE", self.target.event_path(ref.remote_id), etag=ref.etag)

    async def find_by_booking(self, booking_key: str) -> RemoteEvent | None:
        found = [e async for e in self._tagged(booking_key)]
        return found[0].remote_event() if found else None

    async def _tagged(self, booking_key: str) -> AsyncIterator[GraphEvent]:
        value = booking_key.replace("'", "''")
        where = (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{events.BOOKING_PROPERTY}' "
            f"and ep/value eq '{value}')"
        )
        url = f"{self.target.mailbox_events_path}?$filter={quote(where, safe='')}&$select=id"
        matches = [
            entry["id"]
            async for entries in self._pages(url)
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]
        for found in await asyncio.gather(*(self._read_here(m) for m in matches)):
            if found is not None and found.booking_key == booking_key:  # $filter ignores case
                yield found

    async def _read_here(self, event_id: str) -> GraphEvent | None:
        """The event through this calendar, or None when it is not in it (404)."""
        query = f"$select={events.SELECT}&$expand={quote(events.EXPAND, safe='')}"
        request = GraphRequest("GET", f"{self.target.event_path(event_id)}?{query}", _HEADERS)
        answer = await self._batcher.send(request)
        if answer.status == 404:
            return None
        if not answer.ok:
            raise error_for(answer, request)
        return events.parse_event(answer.body)

    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("busy_time needs aware datetimes")
        url = (
            f"{self.target.view_path}?startDateTime={events.query_time(start)}"
            f"&endDateTime={events.query_time(end)}&$select={_VIEW_SELECT}&$top={_PAGE_SIZE}"
        )
        intervals = [
            interval
            async for entries in self._pages(url)
            for entry in entries
            if (interval := events.busy_interval(entry)) is not None
        ]
        overlapping = [i for i in intervals if i.start < end and i.end > start]
        return sorted(overlapping, key=lambda interval: (interval.start, interval.end))

    async def _pages(self, url: str) -> AsyncIterator[list[Any]]:
        """Every page of a collection, following nextLinks to the end; a failure raises."""
        next_url: str | None = url
        while next_url is not None:
            body = (await self._call("GET", next_url)).body
            entries = body.get("value") if isinstance(body, dict) else None
            if not isinstance(entries, list):
                raise PermanentError(f"GET {next_url.split('?')[0]}: no collection in the answer")
            yield entries
            link = body.get("@odata.nextLink")
            next_url = self._relative(link) if isinstance(link, str) else None

    async def changes(
        self, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
    ) -> ChangeSet:
        """calendarView delta, the deltaLink as cursor (connectors/m365/delta.py)."""
        target = self.target
        feed = delta.GraphFeed(
            view_path=target.view_path,
            events_path=target.events_path,
            delta_path=target.delta_path,
            delta_documented=target.is_default,
            send=self._batcher.send,
            relative=self._relative,
        )
        found = await delta.changes(feed, cursor, window, known)
        return replace(found, poll_within_seconds=self._poll_seconds)

    def change_subscriptions(self) -> MailboxSubscriptions:
        """Change-notification subscriptions on this calendar's mailbox."""
        return MailboxSubscriptions(self.target.mailbox, self._batcher.send)


class InvalidCalendar(Calendar):
    """A calendar id that names no calendar: every operation fails for good, saying why."""

    def __init__(self, calendar_id: str, error: PermanentError) -> None:
        self.calendar_id = calendar_id
        self._error = error

    async def create(self, event: EventSpec) -> RemoteRef:
        raise self._error

    async def update(self, ref: RemoteRef, event: EventSpec) -> RemoteRef:
        raise self._error

    async def delete(self, ref: RemoteRef) -> None:
        raise self._error

    async def find_by_booking(self, booking_key: str) -> RemoteEvent | None:
        raise self._error

    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        raise self._error

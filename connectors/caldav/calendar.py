"""One CalDAV calendar collection, implementing the connector contract."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import quote, urljoin, urlsplit

import httpx

from connectors.base import (
    BusyInterval,
    Calendar,
    ChangeSet,
    ChangeWindow,
    EventSpec,
    RemoteEvent,
    RemoteRef,
)
from connectors.caldav import reports, sync
from connectors.caldav.http import ICALENDAR, XML, DavClient, multistatus_body
from connectors.caldav.ical import ParsedEvent, calendar_zone, event_to_ical, parse_events
from connectors.caldav.observe import CalendarObject, busy_intervals, read_object
from connectors.caldav.origin import OutsideAccountError
from connectors.caldav.reports import DavResource
from connectors.errors import PermanentError, PreconditionFailed, RemoteNotFound

_PUT_HEADERS = {"Content-Type": ICALENDAR}
_DEPTH_0 = {"Depth": "0", "Content-Type": XML}
# Servers match floating times and all-day dates in a zone of their own choosing,
# and Radicale misses an all-day event without DTEND unless the range holds its
# start: so ask for a day more on each side, and cut to the exact range here.
_SERVER_MARGIN = timedelta(days=1)


class CalDAVCalendar(Calendar):
    """A calendar collection; a booking's event lives at `<collection>/<booking_key>.ics`."""

    def __init__(self, dav: DavClient, calendar_id: str) -> None:
        self.calendar_id = calendar_id
        self._dav = dav
        try:
            self.url = dav.account.calendar_url(calendar_id)
            self.refused: str | None = None
        except OutsideAccountError as error:  # stored before ids were checked: never reached
            self.url, self.refused = dav.base_url, f"calendar id {error}"
        self.path = urlsplit(self.url).path
        self._floating_zone: tzinfo | None = None

    async def _request(
        self,
        method: str,
        href: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        if self.refused is not None:
            raise PermanentError(self.refused)
        url = urljoin(self.url, href)
        return await self._dav.request(method, url, headers=headers, content=content)

    def href_for(self, booking_key: str) -> str:
        """Where syncd puts the booking's event (the UID is the booking key too)."""
        return f"{self.path}{quote(booking_key, safe='')}.ics"

    async def create(self, event: EventSpec) -> RemoteRef:
        href = self.href_for(event.booking_key)
        headers = {**_PUT_HEADERS, "If-None-Match": "*"}
        body = event_to_ical(event)
        response = await self._request("PUT", href, headers=headers, content=body)
        return RemoteRef(href, await self._etag_after_write(href, response))

    async def update(self, ref: RemoteRef, event: EventSpec) -> RemoteRef:
        # "If-Match: *" when the etag is unknown: replace only what exists.
        headers = {**_PUT_HEADERS, "If-Match": ref.etag or "*"}
        try:
            response = await self._request(
                "PUT", ref.remote_id, headers=headers, content=event_to_ical(event)
            )
        except PreconditionFailed:
            await self._raise_if_missing(ref.remote_id)
            raise
        return RemoteRef(ref.remote_id, await self._etag_after_write(ref.remote_id, response))

    async def delete(self, ref: RemoteRef) -> None:
        headers = {"If-Match": ref.etag} if ref.etag else None
        try:
            await self._request("DELETE", ref.remote_id, headers=headers)
        except PreconditionFailed:
            await self._raise_if_missing(ref.remote_id)
            raise

    async def _etag_after_write(self, href: str, response: httpx.Response) -> str | None:
        etag: str | None = response.headers.get("ETag")
        if etag is None:
            resource = await self._stat(href)
            etag = None if resource is None else resource.etag
        return etag

    async def _raise_if_missing(self, href: str) -> None:
        """After a 412: servers answer a conditional write to a missing object with 412 too."""
        if await self._stat(href) is None:
            raise RemoteNotFound(f"{href} does not exist")

    async def _stat(self, href: str) -> DavResource | None:
        """The object as PROPFIND shows it (with its etag); None if it does not exist."""
        try:
            resources = await self._propfind(href, reports.ETAG_PROPFIND)
        except RemoteNotFound:
            return None
        return next((r for r in resources if r.found), None)

    async def _propfind(self, href: str, body: bytes) -> list[DavResource]:
        response = await self._request("PROPFIND", href, headers=_DEPTH_0, content=body)
        return reports.parse_multistatus(multistatus_body(response, f"PROPFIND {href}"))

    async def find_by_booking(self, booking_key: str) -> RemoteEvent | None:
        href = self.href_for(booking_key)
        try:
            response = await self._request("GET", href)
        except RemoteNotFound:
            return await self._search_by_uid(booking_key)
        found = _booking_event(parse_events(response.content, href), booking_key)
        if found is None:
            return await self._search_by_uid(booking_key)
        ref = RemoteRef(href, response.headers.get("ETag"))
        return await self._remote_event(ref, found, booking_key)

    async def _search_by_uid(self, booking_key: str) -> RemoteEvent | None:
        """The booking's event stored under another name (older versions, moves by clients)."""
        for resource in await self._report(reports.uid_query(booking_key)):
            found = _booking_event(self._events_of(resource), booking_key)
            if found is not None:
                ref = RemoteRef(resource.href, resource.etag)
                return await self._remote_event(ref, found, booking_key)
        return None

    async def booking_events(self) -> dict[str, RemoteRef]:
        found: dict[str, RemoteRef] = {}
        for resource in await self._report(reports.all_events_query()):
            ref = RemoteRef(resource.href, resource.etag)
            found |= {key: ref for key in _keys_of(resource) if key not in found}
        return found

    async def _remote_event(
        self, ref: RemoteRef, event: ParsedEvent, booking_key: str
    ) -> RemoteEvent:
        start, end = event.interval(await self._zone_for([event]))
        return RemoteEvent(ref, booking_key, event.summary, start, end, event.busy)

    async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("busy_time needs aware datetimes")
        query = reports.busy_query(start - _SERVER_MARGIN, end + _SERVER_MARGIN)
        body = await self.report(query, depth="1")
        # read in threads: an answer may be large, and syncd expands each series itself
        objects = await asyncio.to_thread(_busy_objects, body)
        zone = await self.floating_zone(any(obj.floating for obj in objects))
        window = ChangeWindow(start, end)
        intervals = await asyncio.to_thread(_busy_intervals_of, objects, window, zone)
        overlapping = [i for i in intervals if i.start < end and i.end > start]
        return sorted(overlapping, key=lambda interval: (interval.start, interval.end))

    async def _report(self, body: bytes) -> list[DavResource]:
        return reports.parse_multistatus(await self.report(body, depth="1"))

    async def changes(
        self, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
    ) -> ChangeSet:
        return await sync.changes(self, cursor, window, known)

    async def report(self, body: bytes, depth: str) -> bytes:
        """The raw answer to a REPORT on the collection."""
        headers = {"Depth": depth, "Content-Type": XML}
        response = await self._request("REPORT", self.path, headers=headers, content=body)
        return multistatus_body(response, f"REPORT {self.path}")

    async def propfind(self, body: bytes, depth: str) -> bytes:
        """The raw answer to a PROPFIND on the collection."""
        headers = {"Depth": depth, "Content-Type": XML}
        response = await self._request("PROPFIND", self.path, headers=headers, content=body)
        return multistatus_body(response, f"PROPFIND {self.path}")

    async def floating_zone(self, needed: bool) -> tzinfo:
        """The zone floating times are read in; asked of the server only when `needed`."""
        if self._floating_zone is None and needed:
            self._floating_zone = await self._calendar_zone()
        return self._floating_zone or UTC

    @staticmethod
    def _events_of(resource: DavResource) -> list[ParsedEvent]:
        if resource.calendar_data is None:
            # Never guess: an object we cannot read may be busy time.
            raise PermanentError(f"no calendar data returned for {resource.href}")
        return parse_events(resource.calendar_data, resource.href)

    async def _zone_for(self, events: list[ParsedEvent]) -> tzinfo:
        """The zone that floating times and all-day dates are read in: the calendar's own."""
        return await self.floating_zone(any(e.floating for e in events))

    async def _calendar_zone(self) -> tzinfo:
        resources = await self._propfind(self.path, reports.CALENDAR_PROPFIND)
        vtimezone = next((r.text(f"{reports.CALDAV}calendar-timezone") for r in resources), None)
        return (vtimezone and calendar_zone(vtimezone, self.path)) or UTC


def _booking_event(events: list[ParsedEvent], booking_key: str) -> ParsedEvent | None:
    """The master VEVENT carrying `booking_key` as its UID or its syncd tag."""
    matching = [e for e in events if booking_key in (e.uid, e.booking_key)]
    candidates = [e for e in matching if not e.is_override] or matching
    return candidates[0] if candidates else None


def _keys_of(resource: DavResource) -> set[str]:
    """The UIDs and booking tags of an object; none when it cannot be read (not ours to adopt)."""
    try:
        events = CalDAVCalendar._events_of(resource)
    except PermanentError:
        return set()
    return {key for event in events for key in (event.uid, event.booking_key) if key}


def _busy_objects(body: bytes) -> list[CalendarObject]:
    """The stored objects of a busy read. One whose text cannot be read is set apart (not
    counted), as reconcile does; one the server sent no data for may be busy: raise."""
    objects = []
    for resource in reports.parse_multistatus(body):
        if resource.calendar_data is None:
            raise PermanentError(f"no calendar data returned for {resource.href}")
        ref = RemoteRef(resource.href, resource.etag)
        with contextlib.suppress(PermanentError):
            if (obj := read_object(ref, resource.calendar_data)) is not None:
                objects.append(obj)
    return objects


def _busy_intervals_of(
    objects: list[CalendarObject], window: ChangeWindow, zone: tzinfo
) -> list[BusyInterval]:
    intervals: list[BusyInterval] = []
    for obj in objects:
        with contextlib.suppress(PermanentError):  # a series beyond bounds is set apart
            intervals.extend(busy_intervals(obj, window, zone))
    return intervals

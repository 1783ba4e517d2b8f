"""What the contract suite needs from each connector under test.

A harness holds a fresh, empty calendar and knows how to put an event on it
the way a person would (from another client), which the contract itself has
no operation for.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx
import icalendar

from connectors.base import Calendar
from connectors.caldav import CalDAVCalendar, CalDAVConnector, Settings, build
from connectors.caldav.http import DavClient
from connectors.memory import MemoryCalendar
from tests.server_families import Capabilities
from tests.servers import DavServer

WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class ForeignEvent:
    """An event someone else put on the calendar; times are wall times in their zone."""

    name: str
    start: datetime
    end: datetime
    busy: bool = True
    weekly_count: int = 1  # >1: a weekly recurring event with this many occurrences

    def occurrences(self) -> list[tuple[datetime, datetime]]:
        """Each occurrence in UTC; same-zone arithmetic keeps the wall time across DST."""
        return [
            ((self.start + i * WEEK).astimezone(UTC), (self.end + i * WEEK).astimezone(UTC))
            for i in range(self.weekly_count)
        ]


class Harness(Protocol):
    @property
    def calendar(self) -> Calendar: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def add_foreign(self, event: ForeignEvent) -> None: ...


class FeedHarness(Harness, Protocol):
    """What the change-feed contract needs: changes made by hand, and a refused cursor."""

    async def move_by_hand(self, remote_id: str, start: datetime, end: datetime) -> None: ...

    async def delete_by_hand(self, remote_id: str) -> None: ...

    def refused_cursor(self, cursor: str) -> str: ...


class MemoryHarness:
    capabilities = Capabilities()

    def __init__(self, calendar: MemoryCalendar) -> None:
        self.calendar = calendar

    async def add_foreign(self, event: ForeignEvent) -> None:
        for number, (start, end) in enumerate(event.occurrences()):
            self.calendar.add_foreign_event(f"{event.name}-{number}", start, end, busy=event.busy)

    async def move_by_hand(self, remote_id: str, start: datetime, end: datetime) -> None:
        self.calendar.edit_event(remote_id, start=start, end=end)

    async def delete_by_hand(self, remote_id: str) -> None:
        self.calendar.remove_event(remote_id)

    def refused_cursor(self, cursor: str) -> str:
        self.calendar.expire_cursors()
        return cursor


def unique_name(prefix: str = "cal") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class DavHarness:
    """A collection on a real server; foreign events are raw PUTs, as another client's."""

    def __init__(
        self, calendar: Calendar, server: DavServer, collection: str,
        capabilities: Capabilities = Capabilities(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        self.calendar = calendar
        self.server = server
        self.collection = collection
        self.capabilities = capabilities

    async def add_foreign(self, event: ForeignEvent) -> None:
        await self.put_raw(f"{event.name}.ics", foreign_vcalendar(event))

    async def put_raw(self, name: str, body: str) -> str:
        """PUT `body` as `<collection>/<name>`; returns the object's href."""
        href = self.collection + name
        response = await self._send("PUT", href, body.encode())
        response.raise_for_status()
        return href

    async def _send(self, method: str, href: str, body: bytes | None = None) -> httpx.Response:
        server = self.server
        auth = (server.username, server.password)
        headers = {"Content-Type": "text/calendar"} if body is not None else {}
        async with httpx.AsyncClient(
            base_url=server.url, auth=auth, verify=server.tls_verify()
        ) as client:
            return await client.request(method, href, content=body, headers=headers)

    async def move_by_hand(self, remote_id: str, start: datetime, end: datetime) -> None:
        """What a calendar client does when someone drags the event: GET, new times, PUT."""
        response = await self._send("GET", remote_id)
        response.raise_for_status()
        calendar = icalendar.Calendar.from_ical(response.content)
        vevent = calendar.events[0]
        for name, value in (("DTSTART", start), ("DTEND", end)):
            del vevent[name]
            vevent.add(name, value.astimezone(UTC))
        vevent["SEQUENCE"] = int(vevent.get("SEQUENCE", 0)) + 1
        (await self._send("PUT", remote_id, calendar.to_ical())).raise_for_status()

    async def delete_by_hand(self, remote_id: str) -> None:
        (await self._send("DELETE", remote_id)).raise_for_status()

    def refused_cursor(self, cursor: str) -> str:
        """A token of the server's own shape that names no state it has (as once expired)."""
        return cursor[:-8] + "00000000"


async def dav_harness(
    server: DavServer, capabilities: Capabilities = Capabilities()  # noqa: B008 - frozen
) -> AsyncIterator[DavHarness]:
    """A fresh collection on `server`, reached through the CalDAV connector."""
    if capabilities.home_wide_uids:
        server = server.fresh_account()  # the UIDs of other tests are in the same home
    connector = build(Settings.model_validate(server.connector_settings()))
    collection = server.create_collection(unique_name())
    try:
        yield DavHarness(connector.calendar(collection), server, collection, capabilities)
    finally:
        await connector.aclose()


MOCK_PASSWORD = "s3cret-password"
Handler = Callable[[httpx.Request], httpx.Response]


def mocked_calendar(handler: Handler) -> CalDAVCalendar:
    """A CalDAV calendar whose server is `handler` (httpx.MockTransport, nothing to close)."""
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), auth=httpx.BasicAuth("alice", MOCK_PASSWORD)
    )
    return CalDAVConnector(DavClient(client, "http://dav.test/")).calendar("/alice/work/")


BERLIN = ZoneInfo("Europe/Berlin")

BERLIN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def foreign_vcalendar(event: ForeignEvent) -> str:
    """VCALENDAR text as a typical client writes it (TZID wall times, VTIMEZONE)."""
    if event.start.tzinfo != BERLIN:
        raise ValueError("foreign events are written in Europe/Berlin")
    lines = [
        f"UID:foreign-{event.name}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{event.start:%Y%m%dT%H%M%S}",
        f"DTEND;TZID=Europe/Berlin:{event.end:%Y%m%dT%H%M%S}",
        f"SUMMARY:{event.name}",
        "TRANSP:OPAQUE" if event.busy else "TRANSP:TRANSPARENT",
    ]
    if event.weekly_count > 1:
        lines.append(f"RRULE:FREQ=WEEKLY;COUNT={event.weekly_count}")
    return wrap_vevent("\n".join(lines), BERLIN_VTIMEZONE)


def wrap_vevent(vevent_lines: str, vtimezone: str = "") -> str:
    """A VCALENDAR (CRLF line ends) around one VEVENT's property lines."""
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//someone else//EN\n"
        f"{vtimezone}BEGIN:VEVENT\n{vevent_lines}\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n")

"""Staff calendars on a service, and the hands of a person changing them from another client.

`Hands` gives syncd's worker its connector and lets a test do what staff do in
their calendar app: drag an event, delete it, add one of their own. The same
tests run against the in-memory connector, Radicale and Xandikos.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from connectors.base import Connector
from connectors.caldav import CalDAVConnector, Settings, build
from connectors.memory import MemoryConnector
from tests.caldav_listing import list_events
from tests.contract.harness import DavHarness, ForeignEvent, foreign_vcalendar, unique_name
from tests.servers import DavServer

BERLIN = ZoneInfo("Europe/Berlin")
Times = tuple[datetime, datetime]


class Hands(Protocol):
    name: str
    connector: Connector

    def settings(self) -> dict[str, Any]: ...

    def new_calendar(self) -> str: ...

    async def move(self, calendar_id: str, href: str, start: datetime, end: datetime) -> None: ...

    async def delete(self, calendar_id: str, href: str) -> None: ...

    async def add_foreign(
        self, calendar_id: str, name: str, start: datetime, end: datetime, *, busy: bool = True
    ) -> str: ...

    async def events(self, calendar_id: str) -> dict[str, Times]:
        """UID → (start, end) of everything on the calendar, read without syncd."""
        ...

    def refused_cursor(self, calendar_id: str, cursor: str) -> str: ...

    async def aclose(self) -> None: ...


class MemoryHands:
    name = "memory"

    def __init__(self) -> None:
        self.connector = MemoryConnector()

    def settings(self) -> dict[str, Any]:
        return {"kind": "memory"}

    def new_calendar(self) -> str:
        return f"/{uuid.uuid4().hex[:10]}/"

    async def move(self, calendar_id: str, href: str, start: datetime, end: datetime) -> None:
        self.connector.calendar(calendar_id).edit_event(href, start=start, end=end)

    async def delete(self, calendar_id: str, href: str) -> None:
        self.connector.calendar(calendar_id).remove_event(href)

    async def add_foreign(
        self, calendar_id: str, name: str, start: datetime, end: datetime, *, busy: bool = True
    ) -> str:
        calendar = self.connector.calendar(calendar_id)
        return calendar.add_foreign_event(name, start.astimezone(UTC), end.astimezone(UTC),
                                          busy=busy)

    async def events(self, calendar_id: str) -> dict[str, Times]:
        calendar = self.connector.calendar(calendar_id)
        return {
            event.booking_key or _name(href): (event.start, event.end)
            for href, event in calendar.events.items()
        }

    def refused_cursor(self, calendar_id: str, cursor: str) -> str:
        self.connector.calendar(calendar_id).expire_cursors()
        return cursor

    async def aclose(self) -> None:
        return None


def _name(href: str) -> str:
    return href.rsplit("/", 1)[-1].removesuffix(".ics")


class DavHands:
    """A real CalDAV server; changes by hand go over HTTP as another client's would."""

    def __init__(self, server: DavServer) -> None:
        self.server = server
        self.name = type(server).__name__.removesuffix("Server").lower()
        settings = Settings.model_validate(server.connector_settings())
        self.connector: CalDAVConnector = build(settings)

    def settings(self) -> dict[str, Any]:
        return self.server.connector_settings()

    def new_calendar(self) -> str:
        return self.server.create_collection(unique_name())

    def _harness(self, calendar_id: str) -> DavHarness:
        return DavHarness(self.connector.calendar(calendar_id), self.server, calendar_id)

    async def move(self, calendar_id: str, href: str, start: datetime, end: datetime) -> None:
        await self._harness(calendar_id).move_by_hand(href, start, end)

    async def delete(self, calendar_id: str, href: str) -> None:
        await self._harness(calendar_id).delete_by_hand(href)

    async def add_foreign(
        self, calendar_id: str, name: str, start: datetime, end: datetime, *, busy: bool = True
    ) -> str:
        event = ForeignEvent(name, start.astimezone(BERLIN), end.astimezone(BERLIN), busy)
        return await self._harness(calendar_id).put_raw(f"{name}.ics", foreign_vcalendar(event))

    async def events(self, calendar_id: str) -> dict[str, Times]:
        return {e.uid: (e.start, e.end) for e in list_events(self.server, calendar_id)}

    async def put_raw(self, calendar_id: str, name: str, body: str) -> str:
        """Store `body` as it is, as another client would; returns its href."""
        return await self._harness(calendar_id).put_raw(name, body)

    def refused_cursor(self, calendar_id: str, cursor: str) -> str:
        return self._harness(calendar_id).refused_cursor(cursor)

    async def aclose(self) -> None:
        await self.connector.aclose()


class ProxiedHands(DavHands):
    """A real server that syncd reaches through a proxy (tests/dav_proxy.py) playing another
    server family's quirks; changes by hand still go to the server itself."""

    def __init__(self, server: DavServer, proxy_url: str) -> None:
        self.server, self.proxy_url = server, proxy_url
        self.name = f"{type(server).__name__.removesuffix('Server').lower()} behind a proxy"
        self.connector = build(Settings.model_validate(self.settings()))

    def settings(self) -> dict[str, Any]:
        return self.server.connector_settings(url=self.proxy_url)

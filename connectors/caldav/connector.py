"""A CalDAV account: HTTP clients shared by the account's calendar collections
(connectors/caldav/pools.py)."""

from __future__ import annotations

from caldav.elements import dav

from connectors import Credential
from connectors.base import Connector
from connectors.caldav import reports
from connectors.caldav.calendar import CalDAVCalendar
from connectors.caldav.http import XML, DavClient, new_clients
from connectors.caldav.origin import AccountOrigin, OutsideAccountError
from connectors.caldav.settings import Settings, read_password
from connectors.errors import ConfigError, PermanentError, RemoteNotFound

PRINCIPAL_PROPFIND = reports.propfind(dav.CurrentUserPrincipal())


class CalDAVConnector(Connector):
    """An account on a CalDAV server; calendar ids are collection paths (or URLs) inside it."""

    def __init__(self, dav: DavClient, concurrency_per_calendar: int = 4) -> None:
        self.concurrency_per_calendar = concurrency_per_calendar
        self._dav = dav
        self._calendars: dict[str, CalDAVCalendar] = {}

    def calendar(self, calendar_id: str) -> CalDAVCalendar:
        if calendar_id not in self._calendars:
            self._calendars[calendar_id] = CalDAVCalendar(self._dav, calendar_id)
        return self._calendars[calendar_id]

    def calendar_id_problem(self, calendar_id: str) -> str | None:
        try:
            self._dav.account.calendar_url(calendar_id)
        except OutsideAccountError as error:
            return f"calendar id {error}"
        return None

    async def make_calendar(self, calendar_id: str, display_name: str) -> None:
        """Create the calendar collection (MKCALENDAR); one that exists already is fine."""
        calendar = self.calendar(calendar_id)
        if calendar.refused is not None:
            raise PermanentError(calendar.refused)
        path = calendar.path
        body = reports.mkcalendar(display_name)
        try:
            await self._dav.request("MKCALENDAR", path, headers={"Content-Type": XML}, content=body)
        except PermanentError:
            # An existing collection gets 405 (RFC 4791), 409 (Radicale) or 403 (Xandikos).
            if not await self._is_calendar(path):
                raise

    async def _is_calendar(self, path: str) -> bool:
        headers = {"Depth": "0", "Content-Type": XML}
        try:
            response = await self._dav.request(
                "PROPFIND", path, headers=headers, content=reports.CALENDAR_PROPFIND
            )
        except RemoteNotFound:
            return False
        return any(r.is_calendar for r in reports.parse_multistatus(response.content))

    async def check(self) -> None:
        """PROPFIND Depth 0 on the server's base URL, logged in: the cheapest request that
        shows the server answers and takes the credentials (401 is an `AuthError`)."""
        headers = {"Depth": "0", "Content-Type": XML}
        base = self._dav.base_url
        await self._dav.request("PROPFIND", base, headers=headers, content=PRINCIPAL_PROPFIND)

    async def aclose(self) -> None:
        await self._dav.aclose()


def calendar_identity(settings: Settings, calendar_id: str) -> str | None:
    """The collection's own address (see `connectors.calendar_identity`); None for an id
    that is not one of the account's calendars."""
    try:
        return AccountOrigin(settings.url).calendar_identity(calendar_id)
    except OutsideAccountError:
        return None


def build(settings: Settings) -> CalDAVConnector:
    """A connector for the account in `settings`; `ConfigError` if its secret is missing."""
    return _connector(settings, read_password(settings))


def build_with_credential(settings: Settings, credential: Credential) -> CalDAVConnector:
    """A connector for a stored account: the password is `credential`'s (None: no login)."""
    password = credential.read() if settings.username is not None else None
    if settings.username is not None and not password:
        raise ConfigError(["password: the account has a username but no password"])
    return _connector(settings, password)


def _connector(settings: Settings, password: str | None) -> CalDAVConnector:
    clients = new_clients(settings, password)
    return CalDAVConnector(DavClient(clients, settings.url), settings.concurrency_per_calendar)

"""CalDAV discovery: from an email address, a domain or a server URL to the calendars.

    found = await discover("ana@example.org", "ana", app_password)
    found.account_url   # the calendar home: what an account's `url` is set to
    found.calendars     # FoundCalendar(url, path, display_name, colour, components, writable)

Steps: where to start (connectors/caldav/discovery_start.py: the URL, SRV and TXT
records, `/.well-known/caldav`), then `current-user-principal`, its
`calendar-home-set`, and one depth-1 PROPFIND listing the home's calendars. Each
start URL is tried in turn while the last one said "not here" (no CalDAV, a bad
answer, 403, nothing reachable); a refused password, a TLS failure, a server
error, an account without calendars or a redirect to a server the password must
not reach ends the discovery at once. Every failure is a `DiscoveryError` (discovery_errors.py)
with a `code` and a message a person can act on. Requests, redirects and answers
are bounded (discovery_http.py); the password goes only where `CredentialScope`
allows.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import httpx
from caldav.elements import cdav, dav, ical

from connectors.caldav.discovery_errors import (
    AccessDeniedError,
    BadAnswerError,
    DiscoveryError,
    HostNotFoundError,
    NoCalDAVError,
    NoCalendarsError,
    TimedOutError,
    TlsFailureError,
    UnreachableError,
)
from connectors.caldav.discovery_http import CredentialScope, DiscoveryClient, resolve_href
from connectors.caldav.discovery_start import DnsServers, Start, resolve_start
from connectors.caldav.origin import AccountOrigin, OutsideAccountError
from connectors.caldav.reports import CALDAV, DAV, DavResource, parse_multistatus, propfind
from connectors.errors import TransientError
from connectors.public_addresses import AddressCheck, public_only_transport
from connectors.transport import UnreadableCAFile, tls_verification

__all__ = ["ClientOptions", "Discovery", "DnsServers", "FoundCalendar", "discover"]

APPLE_ICAL = "{http://apple.com/ns/ical/}"
MAX_CALENDARS = 1000
MAX_NAME_LENGTH = 200
_WRITE_PRIVILEGES = (f"{DAV}write", f"{DAV}write-content", f"{DAV}all")
# failures that say "not here": the next start URL may still answer (a URL naming another
# user's collection is refused with 403 where the well-known address leads to one's own)
_NEXT_CANDIDATE = (
    NoCalDAVError, BadAnswerError, AccessDeniedError, UnreachableError, HostNotFoundError,
    TimedOutError,
)
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?")

_PRINCIPAL_PROPFIND = propfind(dav.CurrentUserPrincipal())
_HOME_SET_PROPFIND = propfind(cdav.CalendarHomeSet())
_CALENDARS_PROPFIND = propfind(
    dav.ResourceType(),
    dav.DisplayName(),
    ical.CalendarColor(),
    cdav.SupportedCalendarComponentSet(),
    dav.CurrentUserPrivilegeSet(),
)


@dataclass(frozen=True)
class ClientOptions:
    """How discovery talks to servers; the defaults are the system's trust store and DNS."""

    verify_tls: bool = True
    ca_file: str | None = None  # a CA bundle to trust instead of the system's
    timeout_seconds: float = 15  # per request
    deadline_seconds: float = 60  # the whole discovery
    dns_servers: DnsServers | None = None
    # None: any address; else each connection (an SRV target, a redirect, a principal
    # elsewhere) goes only to addresses this accepts (connectors/public_addresses.py)
    allowed_addresses: AddressCheck | None = None


@dataclass(frozen=True)
class FoundCalendar:
    """A calendar collection in the account's home, as the server describes it."""

    url: str
    path: str  # percent-encoded, with its trailing slash: a binding's calendar_id
    display_name: str
    colour: str | None  # "#RRGGBB" or "#RRGGBBAA", where the server keeps one
    components: frozenset[str] | None  # None: the server did not say, so any (RFC 4791 5.2.3)
    writable: bool | None  # None: the server did not say (no current-user-privilege-set)

    @property
    def takes_events(self) -> bool:
        return self.components is None or "VEVENT" in self.components


@dataclass(frozen=True)
class Discovery:
    """What discovery found: the account to store and the calendars a binding may name."""

    account_url: str  # the calendar home set: every calendar below is under it
    principal_url: str
    calendars: tuple[FoundCalendar, ...]


async def discover(
    start: str, username: str, password: str, *, options: ClientOptions | None = None
) -> Discovery:
    """The account and calendars reached from `start` with these credentials."""
    options = options or ClientOptions()
    tls = _tls_context(options)
    try:
        async with asyncio.timeout(options.deadline_seconds):
            where = await resolve_start(start, options.dns_servers)
            async with _http_client(options, tls) as http:
                auth = httpx.BasicAuth(username, password)
                return await _first_answering(where, http, auth, options.allowed_addresses)
    except TimeoutError:
        raise TimedOutError("the server") from None


async def _first_answering(
    where: Start, http: httpx.AsyncClient, auth: httpx.BasicAuth, allowed: AddressCheck | None
) -> Discovery:
    """The discovery from the first start URL that leads to calendars. A failure saying
    "not here" (`_NEXT_CANDIDATE`) moves on to the next; if none answers, the first
    URL's failure is reported (the one the person typed, or the SRV record's)."""
    first_error: DiscoveryError | None = None
    for url in where.candidates:
        client = DiscoveryClient(http, auth, CredentialScope(where.named_host, url), allowed)
        try:
            return await _discover_from(client, url)
        except _NEXT_CANDIDATE as exc:
            first_error = first_error or exc
    assert first_error is not None  # there is always at least one candidate
    raise first_error


async def _discover_from(client: DiscoveryClient, url: str) -> Discovery:
    principal = await _principal(client, url)
    home, calendars = await _calendars(client, await _home_set(client, principal))
    if not calendars:
        raise NoCalendarsError(home)
    return Discovery(home, principal, calendars)


async def _principal(client: DiscoveryClient, url: str) -> str:
    """The current user's principal URL, as the resource at `url` names it."""
    answered, body = await client.propfind(url, _PRINCIPAL_PROPFIND, "0")
    resource = _own_resource(answered, body)
    principal = _href(resource, f"{DAV}current-user-principal")
    if principal is None:
        raise NoCalDAVError(answered, "it names no current-user-principal")
    principal_url = resolve_href(answered, principal)
    client.require_in_scope(principal_url, source=answered)
    return principal_url


async def _home_set(client: DiscoveryClient, principal: str) -> str:
    """The principal's first calendar home (servers with several list the main one first)."""
    answered, body = await client.propfind(principal, _HOME_SET_PROPFIND, "0")
    home = _href(_own_resource(answered, body), f"{CALDAV}calendar-home-set")
    if home is None:
        raise NoCalDAVError(answered, "the principal has no calendar-home-set")
    home_url = resolve_href(answered, home)
    client.require_in_scope(home_url, source=answered)
    return _collection(home_url)


async def _calendars(client: DiscoveryClient, home: str) -> tuple[str, tuple[FoundCalendar, ...]]:
    """The home's URL (where it answered) and the calendars in it. A member outside the
    home (which no server lists, and a hostile one might) is left out, so that each
    calendar is one the account's `AccountOrigin` accepts as a calendar id."""
    answered, body = await client.propfind(home, _CALENDARS_PROPFIND, "1")
    account = AccountOrigin(_collection(answered))
    calendars: list[FoundCalendar] = []
    for resource in _resources(answered, body):
        if not (resource.found and resource.is_calendar):
            continue
        try:
            url = account.calendar_url(resource.href)
        except OutsideAccountError:  # the home itself, or outside it
            continue
        if len(calendars) == MAX_CALENDARS:
            raise BadAnswerError(urlsplit(answered).netloc, f"more than {MAX_CALENDARS} calendars")
        calendars.append(_found_calendar(url, resource))
    return account.base_url, tuple(calendars)


def _found_calendar(url: str, resource: DavResource) -> FoundCalendar:
    return FoundCalendar(
        url=url,
        path=urlsplit(url).path,
        display_name=_display_name(resource),
        colour=_colour(resource.text(f"{APPLE_ICAL}calendar-color")),
        components=_components(resource.props.get(f"{CALDAV}supported-calendar-component-set")),
        writable=_writable(resource.props.get(f"{DAV}current-user-privilege-set")),
    )


def _collection(url: str) -> str:
    """A collection's URL with its trailing slash, as hrefs under it are read against."""
    return url if url.endswith("/") else url + "/"


def _display_name(resource: DavResource) -> str:
    """The display name without control characters, cut short; else the path's last part."""
    name = (resource.text(f"{DAV}displayname") or "").strip()
    name = name or unquote(resource.href.rstrip("/").rpartition("/")[2])
    printable = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return printable[:MAX_NAME_LENGTH]


def _colour(text: str | None) -> str | None:
    value = (text or "").strip()
    return value.upper() if _COLOUR.fullmatch(value) else None


def _components(prop: ElementTree.Element | None) -> frozenset[str] | None:
    if prop is None:
        return None
    return frozenset(c.get("name", "").upper() for c in prop.iter(f"{CALDAV}comp"))


def _writable(prop: ElementTree.Element | None) -> bool | None:
    if prop is None:
        return None
    return any(prop.find(f"{DAV}privilege/{p}") is not None for p in _WRITE_PRIVILEGES)


def _resources(url: str, body: bytes) -> list[DavResource]:
    try:
        return parse_multistatus(body)
    except TransientError as exc:  # reports.py's word for an unreadable multistatus
        raise BadAnswerError(urlsplit(url).netloc, str(exc)) from None


def _own_resource(url: str, body: bytes) -> DavResource:
    """The resource a depth-0 PROPFIND asked about (its only `<response>`)."""
    resources = _resources(url, body)
    if not resources:
        raise BadAnswerError(urlsplit(url).netloc, "a multistatus without a response")
    return resources[0]


def _href(resource: DavResource, tag: str) -> str | None:
    prop = resource.props.get(tag)
    href = None if prop is None else prop.findtext(f"{DAV}href")
    return href.strip() if href and href.strip() else None


def _tls_context(options: ClientOptions) -> ssl.SSLContext | bool:
    try:
        return tls_verification(options.ca_file, options.verify_tls)
    except UnreadableCAFile as error:
        reason = f"the CA file cannot be read ({error.reason})"
        raise TlsFailureError(error.ca_file, reason) from None


def _http_client(options: ClientOptions, tls: ssl.SSLContext | bool) -> httpx.AsyncClient:
    allowed = options.allowed_addresses
    transport = None if allowed is None else public_only_transport(allowed, verify=tls)
    return httpx.AsyncClient(
        follow_redirects=False,
        verify=tls,
        transport=transport,
        timeout=options.timeout_seconds,
        headers={"User-Agent": "syncd"},
    )

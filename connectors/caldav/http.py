"""HTTP for the CalDAV connector: the httpx clients, and the one boundary where their
failures and the server's status codes become syncd's errors.

All requests go through httpx rather than caldav's own client: that one sends
no If-None-Match on create, deletes unconditionally, and its niquests stack
does not verify TLS against a CA file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import httpx

from connectors.caldav.origin import AccountOrigin, OriginBasicAuth
from connectors.caldav.pools import ClientPools
from connectors.caldav.settings import Settings
from connectors.errors import (
    AuthError,
    FailureScope,
    PermanentError,
    PreconditionFailed,
    RemoteError,
    RemoteNotFound,
    TransientError,
    UidInUse,
)
from connectors.public_addresses import public_only_transport, refused_address
from connectors.retry_after import retry_after_seconds
from connectors.transport import TRANSPORT_FAILURES, certificate_refused, tls_verification

ICALENDAR = "text/calendar; charset=utf-8"
XML = "application/xml; charset=utf-8"

_CLIENT_ERRORS: dict[int, type[RemoteError]] = {
    401: AuthError,
    403: PermanentError,
    404: RemoteNotFound,
    410: RemoteNotFound,
    412: PreconditionFailed,
}
# Another object has the UID: of the collection (no-uid-conflict), or of the
# whole calendar home (Cyrus: unique-scheduling-object-resource).
_UID_PRECONDITIONS = ("no-uid-conflict", "unique-scheduling-object-resource")
# A server may close an idle keep-alive connection just as a request goes out on it
# (Radicale does under load). Such a request is sent again once, at once, as browsers
# and urllib3 do: every write is conditional, so when the first attempt did land the
# second is answered 412 or 404, which the worker's converge step already handles.
_DROPPED_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


# Clients an account's calendars are dealt to (connectors/caldav/pools.py): a
# calendar's connections share a pool with those of a few others only.
CLIENTS = 16
# Idle connections each client keeps: two calendars' worth, so that two calendars
# dealt to one client keep theirs open.
KEEPALIVE_CALENDARS = 2


def new_clients(settings: Settings, password: str | None) -> ClientPools:
    """The connector's clients, among which the account's calendars are dealt, each made
    when first needed. The password goes only to the account's origin; redirects are
    never followed."""
    origin = AccountOrigin(settings.url)
    auth = None if password is None else OriginBasicAuth(origin, settings.username or "", password)
    tls = tls_verification(settings.ca_file, settings.verify_tls)  # shared: costs nothing here

    def make() -> httpx.AsyncClient:
        # The worker bounds requests per calendar; the pool must not queue them.
        limits = httpx.Limits(
            max_connections=None,
            max_keepalive_connections=KEEPALIVE_CALENDARS * settings.concurrency_per_calendar,
        )
        transport = (None if settings.allow_private_addresses
                     else public_only_transport(verify=tls, limits=limits))
        return httpx.AsyncClient(
            auth=auth,
            follow_redirects=False,
            verify=tls,
            transport=transport,
            timeout=settings.timeout_seconds,
            limits=limits,
            headers={"User-Agent": "syncd"},
        )

    return ClientPools(make, CLIENTS)


class DavClient:
    """Sends WebDAV requests to one server; every failure leaves as a syncd error."""

    def __init__(
        self, http: httpx.AsyncClient | Sequence[httpx.AsyncClient] | ClientPools, base_url: str
    ) -> None:
        if isinstance(http, httpx.AsyncClient):
            http = [http]
        self._pools = http if isinstance(http, ClientPools) else ClientPools.of(http)
        self.base_url = base_url
        self.account = AccountOrigin(base_url)

    def url(self, href: str) -> str:
        """`href` (a path or a full URL) resolved against the server's base URL."""
        return urljoin(self.base_url, href)

    async def request(
        self,
        method: str,
        href: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """The response to a request; raises the matching `RemoteError` unless it is 2xx.
        A URL off the account's origin is refused before anything is sent."""
        url = self.url(href)
        if not self.account.owns(url):
            host = urlsplit(url).hostname
            raise PermanentError(f"{method} refused: {host} is not the account's server")
        http = self._pools.for_url(url)
        with translated_errors(method, href):
            try:
                response = await http.request(method, url, headers=headers, content=content)
            except _DROPPED_CONNECTION:
                response = await http.request(method, url, headers=headers, content=content)
        if not response.is_success:
            raise error_for_status(response, f"{method} {urlsplit(href).path}")
        return response

    @property
    def open_clients(self) -> int:
        """How many HTTP clients the account holds now (they are made on first use)."""
        return self._pools.open_clients

    async def aclose(self) -> None:
        await self._pools.aclose()


@contextmanager
def translated_errors(method: str, href: str) -> Iterator[None]:
    """Turn httpx's transport failures inside the block into syncd's errors."""
    try:
        yield
    except TRANSPORT_FAILURES as exc:
        action = f"{method} {urlsplit(href).path}"
        refused = refused_address(exc)
        if refused is not None:  # the account's host moved into a private network
            raise PermanentError(f"{action}: {refused}") from exc
        if certificate_refused(exc):
            raise PermanentError(f"{action}: server certificate not trusted") from exc
        raise TransientError(f"{action}: {type(exc).__name__}", scope=_scope_of(exc)) from exc
    except httpx.RequestError as exc:  # bad URL scheme, undecodable body, ...
        raise PermanentError(f"{method} {urlsplit(href).path}: {type(exc).__name__}") from exc


def _scope_of(exc: BaseException) -> FailureScope:
    """An unreachable server concerns the whole calendar; a request cut short or timed out
    concerns that request (the worker pauses the calendar when most of them fail)."""
    unreachable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    return FailureScope.CALENDAR if unreachable else FailureScope.ITEM


def error_for_status(response: httpx.Response, action: str) -> RemoteError:
    """The syncd error for a response that is not 2xx; messages carry no bodies."""
    status = response.status_code
    message = f"{action}: HTTP {status}"
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        # throttling, or a server saying when to come back, holds for all its requests
        whole = status == 429 or (status == 503 and retry_after is not None)
        scope = FailureScope.CALENDAR if whole else FailureScope.ITEM
        return TransientError(message, retry_after=retry_after, scope=scope)
    if status == 423:
        # WebDAV "Locked": Xandikos answers it while another write holds its repository.
        return TransientError(message, scope=FailureScope.ITEM)
    if status in (403, 409) and is_uid_conflict(response.content):
        return UidInUse(f"{message}: UID used by another object", uid_holder(response.content))
    return _CLIENT_ERRORS.get(status, PermanentError)(message)


def multistatus_body(response: httpx.Response, action: str) -> bytes:
    """The body of a 207 Multi-Status answer in XML; any other success is not one.

    A proxy, captive portal or maintenance page answers 200 with an HTML page:
    a transient failure of the request, which must never read as an empty listing.
    """
    content_type = response.headers.get("Content-Type", "xml").split(";")[0].strip().lower()
    if response.status_code != 207 or not content_type.endswith("xml"):
        shown = content_type or "no content type"
        raise TransientError(f"{action}: HTTP {response.status_code} {shown}, not a multistatus")
    return response.content


def is_uid_conflict(body: bytes) -> bool:
    """Whether an error body names a UID precondition (RFC 4791 5.3.2.1, RFC 6638 3.2.4.1)."""
    return any(name.encode() in body for name in _UID_PRECONDITIONS)


def uid_holder(body: bytes) -> str | None:
    """The path of the object holding the UID, as the precondition element names it."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - expat refuses entity bombs
    except ElementTree.ParseError:
        return None
    for name in _UID_PRECONDITIONS:
        element = root.find(f"{{urn:ietf:params:xml:ns:caldav}}{name}")
        href = None if element is None else element.findtext("{DAV:}href")
        if href:
            return urlsplit(href.strip()).path
    return None

"""HTTP for CalDAV discovery: bounded PROPFINDs, redirects followed only where the
password may go, and every failure turned into a `DiscoveryError`.

Where the password may go (`CredentialScope`): the origin discovery starts at
(the URL typed, or the host an SRV record names), and HTTPS origins whose
registrable domain (per the Public Suffix List) is that of the host the person
named or of the start's host: `caldav.icloud.com` may send syncd on to
`p07-caldav.icloud.com`, but `ana.github.io` not to `eve.github.io`, and nothing
goes back from HTTPS to plain HTTP. A redirect or an href anywhere else is not
followed, with or without the password: discovery stops with `ConfirmServerError`,
naming the target, so a hostile or compromised server cannot make syncd send the
password elsewhere; the person may start again from the target if it is theirs.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from publicsuffixlist import PublicSuffixList

from connectors.caldav.discovery_errors import (
    AccessDeniedError,
    BadAnswerError,
    ConfirmServerError,
    DiscoveryError,
    HostNotFoundError,
    NoCalDAVError,
    PrivateAddressError,
    ServerFailedError,
    TimedOutError,
    TlsFailureError,
    UnreachableError,
    WrongCredentialsError,
)
from connectors.caldav.origin import Origin
from connectors.public_addresses import (
    AddressCheck,
    PrivateAddressRefused,
    checked_addresses,
    refused_address,
)

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 4 * 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_NOT_DAV = (400, 404, 405, 406, 410, 415, 501)
_PUBLIC_SUFFIXES = PublicSuffixList()  # the list shipped with the package: no download

_Failure = TypeVar("_Failure", bound=BaseException)


class CredentialScope:
    """The origins the account's password may be sent to during one discovery."""

    def __init__(self, named_host: str, start_url: str) -> None:
        self._start = Origin.of(start_url)
        hosts = (named_host.lower().rstrip("."), self._start.host)
        self._domains = {d for d in map(_registrable_domain, hosts) if d is not None}

    def admits(self, url: str) -> bool:
        try:
            origin = Origin.of(url)
        except ValueError:  # a malformed host or port (OutsideAccountError is one too)
            return False
        if origin == self._start:
            return True
        if origin.scheme != "https" or _registrable_domain(origin.host) is None:
            return False
        return _registrable_domain(origin.host) in self._domains


def _registrable_domain(host: str) -> str | None:
    """`example.co.uk` for `cal.example.co.uk`; None for an IP address or a public suffix."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        suffix = _PUBLIC_SUFFIXES.privatesuffix(host)
        return None if suffix is None else str(suffix)
    return None


class DiscoveryClient:
    """PROPFINDs for discovery over one httpx client; the password only within `scope`.
    With `allowed`, a redirect is followed only to a host resolving to allowed addresses
    (the client's transport checks every connection too: connectors/public_addresses.py)."""

    def __init__(self, http: httpx.AsyncClient, auth: httpx.BasicAuth, scope: CredentialScope,
                 allowed: AddressCheck | None = None):
        self._http = http
        self._auth = auth
        self._scope = scope
        self._allowed = allowed

    async def propfind(self, url: str, body: bytes, depth: str) -> tuple[str, bytes]:
        """The URL finally answering (after redirects within the scope) and its multistatus."""
        source = url
        for _ in range(MAX_REDIRECTS + 1):
            self.require_in_scope(url, source=source)
            status, headers, content = await self._send(url, body, depth)
            if status not in _REDIRECTS:
                return url, _multistatus(url, status, headers, content)
            source, url = url, _redirect_target(url, headers)
            await self._refuse_private(url)
        raise BadAnswerError(_where(source), f"more than {MAX_REDIRECTS} redirects")

    async def _refuse_private(self, url: str) -> None:
        """A redirect's target in a private network is named as such, before its scope."""
        parts = urlsplit(url)
        if self._allowed is None or parts.hostname is None:
            return
        try:
            await checked_addresses(parts.hostname, parts.port or 0, self._allowed)
        except PrivateAddressRefused as refused:
            raise PrivateAddressError(refused.host, refused.address) from None
        except httpcore.ConnectError:
            return  # a name that does not resolve: the scope or the request says so

    def require_in_scope(self, url: str, *, source: str) -> None:
        """`ConfirmServerError` unless the password may go to `url` (named by `source`)."""
        if not self._scope.admits(url):
            raise ConfirmServerError(_where(source), _shown(url))

    async def _send(self, url: str, body: bytes, depth: str) -> tuple[int, httpx.Headers, bytes]:
        headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
        request = self._http.build_request("PROPFIND", url, headers=headers, content=body)
        try:
            response = await self._http.send(request, auth=self._auth, stream=True)
            try:
                content = await _bounded_body(url, response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise transport_error(url, exc) from exc
        return response.status_code, response.headers, content


async def _bounded_body(url: str, response: httpx.Response) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadAnswerError(_where(url), f"an answer over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _redirect_target(url: str, headers: httpx.Headers) -> str:
    location: str | None = headers.get("Location")
    if not location:
        raise BadAnswerError(_where(url), "a redirect without a Location")
    target = resolve_href(url, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise BadAnswerError(_where(url), "a redirect to something not http(s)")
    return target


def resolve_href(base: str, href: str) -> str:
    """`href` (a Location, or an href in a multistatus) read against `base`; a malformed
    one (a broken IPv6 address, a port out of range) is a bad answer of `base`'s server."""
    try:
        resolved = urljoin(base, href.strip())
        urlsplit(resolved).port  # noqa: B018 - reading it validates it
    except ValueError:
        raise BadAnswerError(_where(base), "a malformed URL") from None
    return resolved


def _multistatus(url: str, status: int, headers: httpx.Headers, content: bytes) -> bytes:
    """The body of a 207 in XML; each other answer as the error it means."""
    where = _where(url)
    if status == 401:
        raise WrongCredentialsError(where)
    if status == 403:
        raise AccessDeniedError(where)
    if status == 429 or status >= 500:
        raise ServerFailedError(where, status)
    if status in _NOT_DAV:
        raise NoCalDAVError(_shown(url), f"HTTP {status}")
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if status != 207:
        raise NoCalDAVError(_shown(url), f"HTTP {status} {content_type or 'without a type'}")
    if content_type and not content_type.endswith("xml"):
        raise BadAnswerError(where, f"a multistatus sent as {content_type}")
    return content


def transport_error(url: str, exc: httpx.HTTPError) -> DiscoveryError:
    """The discovery error for a request that got no HTTP answer."""
    refused = refused_address(exc)
    if refused is not None:
        return PrivateAddressError(refused.host, refused.address)
    return _other_transport_error(url, exc)


def _other_transport_error(url: str, exc: httpx.HTTPError) -> DiscoveryError:
    host, where = urlsplit(url).hostname or url, _where(url)
    certificate = _cause(exc, ssl.SSLCertVerificationError)
    if certificate is not None:
        return TlsFailureError(where, str(certificate.verify_message or "certificate not trusted"))
    handshake = _cause(exc, ssl.SSLError)
    if handshake is not None:
        return TlsFailureError(where, f"TLS handshake failed ({handshake.reason or 'no TLS'})")
    if _cause(exc, socket.gaierror) is not None:
        return HostNotFoundError(host)
    if isinstance(exc, httpx.TimeoutException):
        return TimedOutError(where)
    if isinstance(exc, httpx.ConnectError):
        return UnreachableError(where)
    return BadAnswerError(where, type(exc).__name__)


def _cause(exc: BaseException, kind: type[_Failure]) -> _Failure | None:
    """The first exception of `kind` in `exc`'s chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _where(url: str) -> str:
    """host:port of `url`, as messages name a server."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


def _shown(url: str) -> str:
    """`url` without query or fragment, as messages and `ConfirmServerError.target` show it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

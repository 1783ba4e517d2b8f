"""The CalDAV account's origin: where calendar ids may point and where credentials may go.

A calendar id is a path inside the account (or a URL on the account's own scheme,
host and port); it is read after percent-decoding, with `.` and `..` resolved, and
must stay under the account's root path. Requests leave only for the account's
origin, and the password is attached only to those (`OriginBasicAuth`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN_CHARACTERS = frozenset("\\\x00") | {chr(c) for c in range(0x20)} | {"\x7f"}


class OutsideAccountError(ValueError):
    """A calendar id or URL that leaves the account's origin or root path."""


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port, compared after normalisation (case, default ports)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise OutsideAccountError("has an invalid port") from None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        return cls(scheme, host, port or _DEFAULT_PORTS.get(scheme, 0))


class AccountOrigin:
    """The account URL's origin and root path; judges calendar ids and request URLs."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.origin = Origin.of(base_url)
        self._prefix = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
        self.root = _normal_path(urlsplit(base_url).path or "/", "/")
        if not self.root.endswith("/"):
            self.root += "/"

    def calendar_url(self, calendar_id: str) -> str:
        """The collection URL of `calendar_id`; `OutsideAccountError` if it leaves the account."""
        if any(c in _FORBIDDEN_CHARACTERS for c in unquote(calendar_id)):
            raise OutsideAccountError("contains control characters or a backslash")
        parts = urlsplit(calendar_id)
        if (parts.scheme or parts.netloc) and not self._same_server(calendar_id):
            raise OutsideAccountError("is on another server than the account's URL")
        if parts.query or parts.fragment:
            raise OutsideAccountError("must not carry a query or a fragment")
        path = _normal_path(parts.path, self.root)
        if not path.startswith(self.root) or path.rstrip("/") == self.root.rstrip("/"):
            raise OutsideAccountError(f"must be a collection under {self.root}")
        return self._prefix + quote(path if path.endswith("/") else path + "/")

    def calendar_identity(self, calendar_id: str) -> str:
        """Where `calendar_id`'s collection lives, spelt the same whichever account URL
        reaches it (scheme and host case, default port, escaping); raises as calendar_url."""
        path = urlsplit(self.calendar_url(calendar_id)).path
        origin = self.origin
        return f"caldav:{origin.scheme}://{origin.host}:{origin.port}{path}"

    def _same_server(self, url: str) -> bool:
        parts = urlsplit(url)
        return self.owns(url) and parts.username is None and parts.password is None

    def owns(self, url: httpx.URL | str) -> bool:
        """Whether `url` is on the account's origin (scheme, host and port)."""
        try:
            return Origin.of(str(url)) == self.origin
        except OutsideAccountError:
            return False


def _normal_path(path: str, base: str) -> str:
    """`path` percent-decoded, made absolute against `base`, with `.` and `..` resolved;
    `OutsideAccountError` where `..` climbs above `base`."""
    decoded = unquote(path)
    absolute = decoded if decoded.startswith("/") else base + decoded
    floor = len([s for s in base.split("/") if s])
    segments: list[str] = []
    for segment in absolute.split("/"):
        if segment == "..":
            if len(segments) <= floor:
                raise OutsideAccountError(f"climbs above {base}")
            segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = "/" if decoded.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


class OriginBasicAuth(httpx.Auth):
    """HTTP Basic credentials sent only to the account's origin, never to another host."""

    def __init__(self, origin: AccountOrigin, username: str, password: str) -> None:
        self._origin = origin
        self._basic = httpx.BasicAuth(username, password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._origin.owns(request.url):
            yield from self._basic.auth_flow(request)
        else:
            yield request

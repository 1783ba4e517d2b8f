"""HTTP for the Microsoft 365 connector: the clients, one Graph exchange, and the one
place where Graph's status codes and error codes become syncd's errors.

The Graph client and MSAL's token client are built with the same TLS verification
(connectors/transport.py reads the `ca_file`).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.errors import (
    AuthError,
    FailureScope,
    PermanentError,
    PreconditionFailed,
    RemoteError,
    RemoteNotFound,
    TransientError,
)
from connectors.m365.settings import Settings
from connectors.retry_after import retry_after_seconds
from connectors.transport import TRANSPORT_FAILURES, certificate_refused

THROTTLED = frozenset({429, 503, 504})  # come back after Retry-After, or back off

# Graph error codes that say more than their status does.
_ERROR_CODES: dict[str, type[RemoteError]] = {
    "ErrorItemNotFound": RemoteNotFound,
    "ErrorInvalidIdMalformed": RemoteNotFound,  # an id we hold cannot name an event
    "ErrorIrresolvableConflict": PreconditionFailed,
    "ErrorInvalidUser": PermanentError,  # the mailbox in the calendar id does not exist
    "ErrorNonExistentMailbox": PermanentError,
    "MailboxNotEnabledForRESTAPI": PermanentError,
    "MailboxNotSupportedForRESTAPI": PermanentError,
    "ResourceNotFound": PermanentError,
    "Request_ResourceNotFound": PermanentError,
    "ErrorAccessDenied": AuthError,  # e.g. an application access policy excludes the mailbox
    "Authorization_RequestDenied": AuthError,
    "InvalidAuthenticationToken": AuthError,
}
_STATUSES: dict[int, type[RemoteError]] = {
    401: AuthError,
    403: AuthError,  # no Calendars.ReadWrite, or consent revoked
    404: RemoteNotFound,
    409: PreconditionFailed,
    410: RemoteNotFound,
    412: PreconditionFailed,
}
# The request never left: no connection could be had (the pool was full, or none
# could be opened). Sending it again cannot do anything twice.
_NOT_SENT = (httpx.PoolTimeout, httpx.ConnectTimeout, httpx.ConnectError)


@dataclass(frozen=True)
class GraphRequest:
    """One Graph request; `url` is relative to the Graph root ("/users/...")."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class GraphResponse:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any  # parsed JSON, or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, str) else None

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers.get("retry-after"))


class TransportFailure(Exception):  # noqa: N818 - a condition, not a final error
    """No usable answer (connection refused or dropped, timeout): the request may have run."""


class NotSent(TransportFailure):
    """No connection for the request (pool full, connecting failed): it never reached Graph."""


def graph_limits(settings: Settings) -> httpx.Limits:
    """The Graph client's pool: bounded, so that a thousand mailboxes at once do not open a
    thousand TLS connections at once; every connection is kept alive between writes."""
    return httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )


def graph_timeout(settings: Settings) -> httpx.Timeout:
    # Waiting for a pooled connection is queueing, not a failure, and needs no bound of
    # its own: every request holding a connection ends within `timeout_seconds`.
    return httpx.Timeout(
        settings.timeout_seconds, connect=settings.connect_timeout_seconds, pool=None
    )


def new_graph_client(settings: Settings, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=verify,
        timeout=graph_timeout(settings),
        limits=graph_limits(settings),
        headers={"User-Agent": "syncd", "Accept": "application/json"},
    )


class TokenClient(httpx.Client):
    """The synchronous client MSAL talks to the authority with (MSAL is synchronous).

    MSAL posts a certificate's client_assertion as bytes, which httpx would
    form-encode as its repr ("b'eyJ...'"); the authority refuses that JWT.
    """

    def post(self, url: Any, *, data: Any = None, **options: Any) -> httpx.Response:
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return super().post(url, data=data, **options)


def new_token_client(settings: Settings, verify: ssl.SSLContext | bool) -> TokenClient:
    return TokenClient(verify=verify, timeout=settings.timeout_seconds)


class GraphHttp:
    """Sends single requests to Graph; answers are returned whatever their status."""

    def __init__(self, client: httpx.AsyncClient, graph_url: str) -> None:
        self._client = client
        self.graph_url = graph_url

    async def exchange(self, request: GraphRequest, token: str) -> GraphResponse:
        """The answer to `request`; `TransportFailure` if none came."""
        headers = {**request.headers, "Authorization": f"Bearer {token}"}
        content = None
        if request.body is not None:
            content = json.dumps(request.body).encode()
            headers["Content-Type"] = "application/json"
        with _transport_errors(request):
            response = await self._client.request(
                request.method, self.graph_url + request.url, headers=headers, content=content
            )
            body = _json_body(response.headers.get("Content-Type", ""), response.content)
        return GraphResponse(response.status_code, _lower_keys(response.headers), body)

    def relative(self, url: str) -> str:
        """A nextLink (absolute) as a URL relative to the Graph root."""
        if not url.startswith(self.graph_url + "/"):
            raise PermanentError("Graph sent a link outside its own root")
        return url.removeprefix(self.graph_url)

    async def aclose(self) -> None:
        await self._client.aclose()


@contextmanager
def _transport_errors(request: GraphRequest) -> Iterator[None]:
    action = f"{request.method} {_path(request.url)}"
    try:
        yield
    except TRANSPORT_FAILURES as exc:
        if certificate_refused(exc):
            raise PermanentError(f"{action}: server certificate not trusted") from exc
        if isinstance(exc, _NOT_SENT):
            raise NotSent(f"{action}: {type(exc).__name__}") from exc
        raise TransportFailure(f"{action}: {type(exc).__name__}") from exc
    except httpx.RequestError as exc:  # bad URL, undecodable body, ...
        raise PermanentError(f"{action}: {type(exc).__name__}") from exc


def _json_body(content_type: str, content: bytes) -> Any:
    if not content or "json" not in content_type:
        return None
    try:
        return json.loads(content)
    except ValueError:
        raise PermanentError("Graph sent a body that is not JSON") from None


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _path(url: str) -> str:
    """The URL without its query: filters name booking keys, logs should not."""
    return url.split("?", 1)[0]


def error_for(response: GraphResponse, request: GraphRequest) -> RemoteError:
    """The syncd error for an answer that is not 2xx; messages carry no bodies."""
    status, code = response.status, response.error_code
    message = f"{request.method} {_path(request.url)}: HTTP {status}" + (f" {code}" if code else "")
    if status in THROTTLED or status >= 500:
        scope = FailureScope.CALENDAR if status in THROTTLED else FailureScope.ITEM
        return TransientError(message, retry_after=response.retry_after, scope=scope)
    if code in _ERROR_CODES and status >= 400:
        return _ERROR_CODES[code](message)
    return _STATUSES.get(status, PermanentError)(message)

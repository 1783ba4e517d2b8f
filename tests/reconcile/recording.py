"""An httpx transport that records each request's kind, and can play a server without
sync-collection. Shared by the CalDAV feed tests and bench/reconcile.py."""

from __future__ import annotations

import time

import httpx

from connectors.caldav import CalDAVConnector
from connectors.caldav.http import DavClient
from tests.servers import DavServer

_REPORTS = (b"sync-collection", b"calendar-multiget", b"calendar-query")


def request_kind(request: httpx.Request) -> str:
    """"REPORT sync-collection", "PROPFIND", "PUT", ..."""
    if request.method == "REPORT":
        body = request.content
        name = next((r.decode() for r in _REPORTS if r in body), "other")
        return f"REPORT {name}"
    return request.method


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, *, refuse_sync: bool = False) -> None:
        self.inner = inner
        self.refuse_sync = refuse_sync
        self.kinds: list[str] = []
        self.seconds: list[float] = []  # each request's, until its whole body was read

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = request_kind(request)
        self.kinds.append(kind)
        if self.refuse_sync and kind == "REPORT sync-collection":
            return httpx.Response(403, content=b'<error xmlns="DAV:"><supported-report/></error>')
        started = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        body = b"".join([chunk async for chunk in response.aiter_raw()])  # still encoded
        await response.aclose()
        self.seconds.append(time.perf_counter() - started)
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=httpx.ByteStream(body), extensions=response.extensions)

    def clear(self) -> None:
        self.kinds.clear()
        self.seconds.clear()

    async def aclose(self) -> None:
        await self.inner.aclose()


def recorded_connector(
    server: DavServer, *, refuse_sync: bool = False
) -> tuple[CalDAVConnector, Recording]:
    """A CalDAV connector to `server` whose requests are recorded."""
    recording = Recording(httpx.AsyncHTTPTransport(verify=server.tls_verify()),
                          refuse_sync=refuse_sync)
    client = httpx.AsyncClient(transport=recording, auth=(server.username, server.password),
                               timeout=120)
    return CalDAVConnector(DavClient(client, server.url + "/")), recording

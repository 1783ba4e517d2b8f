"""An HTTP proxy in front of a CalDAV server that counts concurrent requests per calendar.

Several worker processes write through it; afterwards `peak` tells the most
requests any one calendar collection had in flight at once. `latency_seconds`
holds every request that long before forwarding it, as a distant or busy
server would (bench/scale.py). A `quirk` (tests/dav_quirks.py) makes the server
behind it behave as another server family does.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter, defaultdict
from types import TracebackType
from typing import Protocol, Self

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class Quirk(Protocol):
    """Another server family's behaviour, played by the proxy."""

    def answer(self, method: str, body: bytes) -> Response | None:
        """The proxy's own answer to a request, or None to forward it."""

    def rewrite(self, method: str, body: bytes) -> bytes:
        """The body sent upstream in place of `body`."""

    def rewrite_answer(self, method: str, body: bytes, answer: bytes) -> bytes:
        """The body answered in place of the server's `answer` to a request with `body`."""


def collection_of(path: str) -> str:
    """ "/alice/work/x.ics" → "/alice/work/": the calendar a request concerns."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) + "/"


class CountingProxy:
    def __init__(
        self,
        upstream: str,
        latency_seconds: float = 0.0,
        *,
        quirk: Quirk | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.latency_seconds = latency_seconds
        self.quirk, self._verify = quirk, verify
        self.port = free_port()
        self.in_flight: Counter[str] = Counter()
        self.peak: dict[str, int] = defaultdict(int)
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._forward,
                    methods=[
                        "GET",
                        "PUT",
                        "DELETE",
                        "PROPFIND",
                        "REPORT",
                        "MKCALENDAR",
                        "HEAD",
                        "OPTIONS",
                    ],
                )
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _enter(self, collection: str) -> None:
        with self._lock:
            self.in_flight[collection] += 1
            self.requests[collection] += 1
            self.peak[collection] = max(self.peak[collection], self.in_flight[collection])

    def _leave(self, collection: str) -> None:
        with self._lock:
            self.in_flight[collection] -= 1

    async def _forward(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60, verify=self._verify)
        body = await request.body()
        if self.quirk is not None:
            own = self.quirk.answer(request.method, body)
            if own is not None:
                return own
            body = self.quirk.rewrite(request.method, body)
        collection = collection_of(request.url.path)
        self._enter(collection)
        try:
            if self.latency_seconds:
                await asyncio.sleep(self.latency_seconds)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = await self._client.request(
                request.method,
                self.upstream + request.url.path,
                headers=headers,
                content=body,
            )
        except httpx.TransportError:
            return Response(status_code=502)
        finally:
            self._leave(collection)
        # httpx decoded the body: a Content-Encoding passed on would have the client decode it again
        dropped = HOP_BY_HOP | {"content-encoding"}
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in dropped}
        answer = upstream.content
        if self.quirk is not None:
            answer = self.quirk.rewrite_answer(request.method, body, answer)
        return Response(answer, status_code=upstream.status_code, headers=out)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("proxy did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

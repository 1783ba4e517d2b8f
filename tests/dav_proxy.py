"""An HTTP proxy in front of a CalDAV server that counts concurrent requests per calendar.

Several worker processes write through it; afterwards `peak` tells the most
requests any one calendar collection had in flight at once. `latency_seconds`
holds every request that long before forwarding it, as a distant or busy
server would (bench/scale.py). `fault`, when set, is asked first about every
request and may answer it instead of the server (an HTML page, a 503, a reset):
what a misbehaving proxy or load balancer in front of the server does. A `quirk`
(tests/dav_quirks.py) makes the server behind it behave as another server family does.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.servers import free_port
from tests.threads import UvicornThread, local_config

Fault = Callable[[Request], Awaitable[Response | None]]
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
        fault: Fault | None = None,
        *,
        quirk: Quirk | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.latency_seconds = latency_seconds
        self.fault = fault
        self.quirk, self._verify = quirk, verify
        self.port = free_port()
        self.in_flight: Counter[str] = Counter()
        self.peak: dict[str, int] = defaultdict(int)
        self.requests: Counter[str] = Counter()
        self.answered: list[tuple[str, int]] = []  # (method, status) of what the server answered
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
        self._running = UvicornThread(local_config(app, self.port), "the proxy")
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
            if self.fault is not None and (instead := await self.fault(request)) is not None:
                return instead
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
        with self._lock:
            self.answered.append((request.method, upstream.status_code))
        # httpx decoded the body: a Content-Encoding passed on would have the client decode it again
        dropped = HOP_BY_HOP | {"content-encoding"}
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in dropped}
        answer = upstream.content
        if self.quirk is not None:
            answer = self.quirk.rewrite_answer(request.method, body, answer)
        return Response(answer, status_code=upstream.status_code, headers=out)

    def __enter__(self) -> Self:
        self._running.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._running.stop()


@dataclass
class RandomFaults:
    """A `fault` failing `rate` of the requests while `on`: a reset in the middle of the
    answer, a 503 without Retry-After, or a hold past the client's `timeout_seconds`
    (after which the request still reaches the server, late)."""

    timeout_seconds: float
    rate: float = 0.07
    on: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(19))
    counts: Counter[str] = field(default_factory=Counter)

    async def __call__(self, request: Request) -> Response | None:
        if not self.on or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(["reset", "503", "timeout"])
        self.counts[kind] += 1
        if kind == "503":
            return Response(b"busy", status_code=503)
        if kind == "reset":
            return StreamingResponse(_cut_off())
        await request.body()  # read now: the client will have gone when it is forwarded
        await asyncio.sleep(self.timeout_seconds * 2)
        return None


async def _cut_off() -> AsyncIterator[bytes]:
    yield b"<?xml"
    raise ConnectionResetError("connection reset in the middle of the answer")

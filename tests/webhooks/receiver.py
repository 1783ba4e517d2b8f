"""A real HTTP endpoint for webhook tests: uvicorn on a free 127.0.0.1 port, in a thread.

It records every request as it arrives, then answers as the test scripts it:
a status, headers, a delay before answering, or a hold until the test lets go.

    with Receiver() as receiver:
        receiver.answer = first(2, Reply(500))
        ...
        receiver.wait_for(lambda got: len(got) >= 3)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from tests.servers import free_port
from tests.threads import UvicornThread, local_config


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    # time.time() on arrival: retries are scheduled by the wall clock (the database's
    # next_attempt_at), so only this clock can show that a retry came no sooner than asked
    wall: float = 0.0

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def booking(self) -> str:
        return str(self.payload["data"].get("booking"))


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None  # answer only once it is set


Answer = Callable[[Received], Reply]


def always(status: int = 200, **headers: str) -> Answer:
    return lambda _: Reply(status, dict(headers))


def first(
    times: int, reply: Reply, *, when: Callable[[Received], bool] | None = None
) -> Answer:
    """`reply` to the first `times` attempts of each message `when` selects; 200 otherwise."""
    seen: Counter[str] = Counter()

    def answer(request: Received) -> Reply:
        if when is not None and not when(request):
            return Reply()
        seen[request.webhook_id] += 1
        return reply if seen[request.webhook_id] <= times else Reply()

    return answer


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.answer: Answer = always(200)
        self._received: list[Received] = []
        self._lock = threading.Lock()
        config = local_config(
            self._app, self.port, http="h11", interface="asgi3", timeout_graceful_shutdown=1
        )
        self._running = UvicornThread(config, "the webhook receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, check: Callable[[list[Received]], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.received):
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met; got {self.summary()}")
            time.sleep(0.02)

    def summary(self) -> list[tuple[str, str]]:
        return [(r.payload["type"], r.booking) for r in self.received]

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

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Received(headers, body, time.monotonic(), time.time())
        with self._lock:
            self._received.append(request)
        await self._respond(self.answer(request), send)

    async def _respond(self, reply: Reply, send: Any) -> None:
        await asyncio.sleep(reply.delay)
        while reply.hold is not None and not reply.hold.is_set():
            await asyncio.sleep(0.02)
        headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

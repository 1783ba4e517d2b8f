"""Outgoing calls of change notifications: validation handshakes, notifications, lifecycle.

Delivery is automatic: a change to a subscribed mailbox queues a notification and the
server's event loop POSTs it to the notificationUrl (changes queued together for one URL
travel in one POST, as Graph batches them; POSTs may overlap, so a receiver may see
them out of order — Graph promises no order either). Graph's rule is a 2xx within 3 seconds;
otherwise the double tries again after 0.5 s and 1.5 s, then drops the notification
(Graph keeps trying for up to 4 hours). Every attempt is recorded in `deliveries`.
`GraphDouble.deliver_notifications()` waits until everything queued has been delivered
or given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from tests.graph.errors import GraphError

NOTIFICATION_TIMEOUT = 3.0
VALIDATION_TIMEOUT = 10.0
RETRY_DELAYS = (0.5, 1.5)


@dataclass(frozen=True)
class Delivery:
    kind: str  # "validation", "change" or "lifecycle"
    url: str
    payload: Any
    status: int | None  # None: no answer (timeout, refused connection)
    seconds: float

    @property
    def ok(self) -> bool:
        """What Graph requires of a notification endpoint: a 2xx within 3 seconds."""
        return (
            self.status is not None
            and 200 <= self.status < 300
            and self.seconds <= NOTIFICATION_TIMEOUT
        )


@dataclass
class Notifier:
    deliveries: list[Delivery] = field(default_factory=list)
    _pending: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)  # (url, item)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _busy: int = 0  # POSTs (with their retries) under way
    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None
    _posts: set[asyncio.Task[None]] = field(default_factory=set)
    _reported: int = 0  # deliveries already handed out by new_deliveries()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient()
        self._task = asyncio.create_task(self._deliver_forever())
        self._wake.set()  # anything queued while the server was down

    async def stop(self) -> None:
        running = [t for t in (self._task, *self._posts) if t is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._loop = self._wake = self._task = self._client = None

    # -- change notifications ---------------------------------------------------------

    def enqueue(self, url: str, item: dict[str, Any]) -> None:
        """Queue a notification (any thread)."""
        with self._lock:
            self._pending.append((url, item))
            loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed; start() will deliver
                loop.call_soon_threadsafe(wake.set)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and self._busy == 0

    def new_deliveries(self) -> list[Delivery]:
        """The deliveries made since the previous call (the first call: since the start)."""
        with self._lock:
            fresh = self.deliveries[self._reported :]
            self._reported = len(self.deliveries)
        return fresh

    async def _deliver_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            for url, items in self._take_batches().items():
                task = asyncio.create_task(self._deliver(url, {"value": items}))
                self._posts.add(task)
                task.add_done_callback(self._posts.discard)

    def _take_batches(self) -> dict[str, list[dict[str, Any]]]:
        batches: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            while self._pending:
                url, item = self._pending.popleft()
                batches.setdefault(url, []).append(item)
            self._busy += len(batches)
        return batches

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        try:
            delivery = await self.post("change", url, payload)
            for delay in RETRY_DELAYS:
                if delivery.ok:
                    break
                await asyncio.sleep(delay)
                delivery = await self.post("change", url, payload)
        finally:
            with self._lock:
                self._busy -= 1

    # -- calls ------------------------------------------------------------------------

    async def post(self, kind: str, url: str, payload: Any) -> Delivery:
        """POST a notification; no answer within NOTIFICATION_TIMEOUT counts as none."""
        assert self._client is not None
        started = time.monotonic()
        try:
            response = await self._client.post(url, json=payload, timeout=NOTIFICATION_TIMEOUT)
            status: int | None = response.status_code
        except httpx.HTTPError:
            status = None
        delivery = Delivery(kind, url, payload, status, time.monotonic() - started)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    async def validate(self, url: str) -> None:
        """Graph's handshake: POST url?validationToken=... must echo the token, 200 text/plain."""
        assert self._client is not None
        token = (
            "Validation: Testing client application reachability for subscription "
            + secrets.token_hex(8)
        )
        target = _with_query(url, {"validationToken": token})
        started = time.monotonic()
        try:
            response = await self._client.post(
                target,
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=VALIDATION_TIMEOUT,
            )
        except httpx.TimeoutException:
            self._record_validation(url, None, started)
            raise GraphError(
                400, "ValidationError", "Subscription validation request timed out."
            ) from None
        except httpx.HTTPError:
            self._record_validation(url, None, started)
            raise _validation_failed(
                "Notification endpoint must respond with 200 OK to validation request."
            ) from None
        self._record_validation(url, response.status_code, started)
        _check_echo(response, token)

    def _record_validation(self, url: str, status: int | None, started: float) -> None:
        with self._lock:
            self.deliveries.append(
                Delivery("validation", url, None, status, time.monotonic() - started)
            )

    def run(self, coroutine: Any, timeout: float = 15.0) -> Any:
        """Run `coroutine` on the server's loop from another thread and return its result."""
        if self._loop is None:
            raise RuntimeError("the Graph double is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


def _check_echo(response: httpx.Response, token: str) -> None:
    if response.status_code != 200:
        raise _validation_failed(
            f"HTTP status code is '{response.status_code}'. Notification endpoint must respond "
            "with 200 OK to validation request."
        )
    if not response.headers.get("content-type", "").startswith("text/plain"):
        raise _validation_failed("The validation response must have Content-Type text/plain.")
    if response.text != token:
        raise _validation_failed("Response must exactly match validationToken query parameter.")


def _validation_failed(reason: str) -> GraphError:
    return GraphError(400, "ValidationError", f"Subscription validation request failed. {reason}")


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit(parts._replace(query=query))

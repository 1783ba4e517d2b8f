"""A notification endpoint for tests of the double's subscriptions (plain HTTP, in a thread).

It answers Graph's validation handshake (echoing validationToken as text/plain) and
records every notification, answering `status` after `delay` seconds:

    with NotificationReceiver() as receiver:
        receiver.status = 202
        ... receiver.url ...
        receiver.notifications  # parsed JSON bodies, oldest first
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.servers import free_port
from tests.threads import UvicornThread, local_config


class NotificationReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.status = 202
        self.delay = 0.0
        self.validation = "echo"  # "echo", "wrong" (a different text) or "refuse" (500)
        self.validation_delay = 0.0
        self.validations: list[str] = []
        self._notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._running = UvicornThread(
            local_config(app, self.port), "the notification receiver"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    @property
    def notifications(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._notifications)

    def changes(self) -> list[dict[str, Any]]:
        """Every change notification item received, in order."""
        return [item for body in self.notifications for item in body["value"]]

    async def _receive(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return await self._validate(token)
        body = json.loads(await request.body())
        with self._lock:
            self._notifications.append(body)
        await asyncio.sleep(self.delay)
        return Response(status_code=self.status)

    async def _validate(self, token: str) -> Response:
        self.validations.append(token)
        await asyncio.sleep(self.validation_delay)
        if self.validation == "refuse":
            return Response(status_code=500)
        return PlainTextResponse(token if self.validation == "echo" else "something else")

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

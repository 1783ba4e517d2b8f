"""A synchronous client for the ASGI app, for tests written as plain functions.

httpx's AsyncClient over ASGITransport runs the app in-process; a blocking
portal (an event loop in a helper thread) lets sync tests, and several test
threads at once, call it. The app's endpoints run as in production: async,
with their database work in Starlette's thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp

T = TypeVar("T")


class ApiClient:
    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        self._app = app
        self._headers = headers or {}
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> Self:
        self._portal = self._stack.enter_context(start_blocking_portal())
        transport = httpx.ASGITransport(app=self._app)
        client = httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=self._headers
        )
        self._client = self._stack.enter_context(self._portal.wrap_async_context_manager(client))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` on the app's event loop (to close what the app opened there)."""
        if self._portal is None:
            raise RuntimeError("use the client inside `with ApiClient(...)`")
        return self._portal.call(work)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._portal is None or self._client is None:
            raise RuntimeError("use the client inside `with ApiClient(...)`")
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

"""What every manage page handler is given: the runtime, the renderer, the CSRF guard, a clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from syncd.errors import NotFound
from syncd.runtime import Runtime
from syncd.store.db import in_transaction
from syncd.store.session import SyncdSession
from syncd.web.csrf import CsrfGuard
from syncd.web.reads import PageReads
from syncd.web.render import Pages

T = TypeVar("T")
# Longer than any token syncd issues; a longer path segment is not worth hashing.
MAX_TOKEN_LENGTH = 256


def database_limiter(runtime: Runtime) -> CapacityLimiter:
    """How many page transactions may run at once.

    SQLite runs one transaction at a time (syncd begins each one IMMEDIATE), and
    its busy handler waits for the lock by sleeping in growing steps; page
    requests queued here instead take their turn the moment it comes.
    """
    if runtime.engine.dialect.name == "sqlite":
        return CapacityLimiter(1)
    return CapacityLimiter(runtime.engine.pool.size())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Web:
    runtime: Runtime
    pages: Pages
    csrf: CsrfGuard
    clock: Callable[[], datetime]
    database_turns: CapacityLimiter
    reads: PageReads

    async def transact(self, work: Callable[[SyncdSession], T]) -> T:
        """`work` in one transaction (see syncd.api.handling), in a worker thread."""
        sessions = self.runtime.sessions
        return await anyio.to_thread.run_sync(
            in_transaction, sessions, work, limiter=self.database_turns
        )


Handler = Callable[[Web, Request], Awaitable[Response]]


class PageEndpoint:
    """A page handler bound to `web`, as the ASGI app of its route.

    What the handler raises goes up to the frame around the pages
    (syncd.web.frame), which answers with the error page; Starlette's own
    per-route exception layer would only hand it on."""

    def __init__(self, web: Web, handler: Handler) -> None:
        self.web = web
        self.handler = handler
        self.__name__ = handler.__name__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(self.web, Request(scope, receive, send))
        await response(scope, receive, send)


def token_of(request: Request) -> str:
    token = str(request.path_params["token"])
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("manage token")
    return token


def page_url(request: Request, token: str, page: str = "") -> str:
    base = request.scope.get("root_path", "")
    return f"{base}/{token}/{page}" if page else f"{base}/{token}"


def see_other(request: Request, token: str, page: str) -> Response:
    """Post/Redirect/Get: after a change, the browser loads the done page with a GET."""
    return RedirectResponse(page_url(request, token, page), status_code=303)

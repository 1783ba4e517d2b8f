"""Request latency of everything syncd serves over HTTP, by route template.

Labels are bounded: the route's template as declared ("/api/v1/merchants/{merchant}"),
never the path asked for, which holds booking keys and tokens; a path no route
matches is "unmatched"; methods outside the usual few are "other"; the status
is its class ("2xx").
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.metrics import HTTP_REQUEST_SECONDS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestMetrics:
    """ASGI middleware: observe each HTTP request's duration in HTTP_REQUEST_SECONDS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(getattr(scope.get("app"), "routes", ()), scope) or UNMATCHED
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = 500  # unless a response starts: an exception escaping is a 5xx
        started = time.perf_counter()

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            elapsed = time.perf_counter() - started
            labels = (route, method, f"{status // 100}xx")
            HTTP_REQUEST_SECONDS.labels(*labels).observe(elapsed)


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The template of the route the router will pick for `scope`, as Starlette picks:
    the first full match, else the first partial one (a 405); mounts are followed."""
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        template = _template(route, {**scope, **child})
        if match is Match.FULL:
            return template
        partial = partial or template
    return partial


def _template(route: BaseRoute, scope: Scope) -> str | None:
    path = str(getattr(route, "path", ""))
    inner: Sequence[BaseRoute] = getattr(route, "routes", None) or ()
    if not inner:
        # A plain route, or a mount of an app without routes (static files, say).
        return path if hasattr(route, "endpoint") else path + "/{path}"
    rest = route_template(inner, scope)
    return None if rest is None else path + rest

"""Request latency of everything syncd serves over HTTP, by route template.

Labels are bounded: the route's template as declared ("/api/v1/merchants/{merchant}"),
never the path asked for, which holds booking keys and tokens; a path no route
matches is "unmatched"; methods outside the usual few are "other"; the status
is its class ("2xx").

The template is found after the request, from the route Starlette's routers
left in the scope (the innermost one that answered); only when no plain route
answered (a middleware refused first, or nothing matched) are the routes
matched again, as the router would have matched them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.metrics import HTTP_REQUEST_SECONDS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# each status's class, made once rather than formatted on every request
STATUS_CLASSES = {status: f"{status // 100}xx" for status in range(100, 600)}
Labels = tuple[str, str, str]


class RequestMetrics:
    """ASGI middleware: observe each HTTP request's duration in HTTP_REQUEST_SECONDS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._leaf_templates: dict[int, str] | None = None  # id(route) → its full template
        self._series: dict[Labels, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.timed(dict(scope), scope, receive, send)  # the routers add to `scope`

    async def timed(self, asked: Scope, scope: Scope, receive: Receive, send: Send) -> None:
        """This middleware's app answering `scope`, timed; `asked` is the scope as the
        application was asked, before any routing, for the label of a request no route
        answered."""
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
            method = scope["method"] if scope["method"] in METHODS else "other"
            status_class = STATUS_CLASSES.get(status) or f"{status // 100}xx"
            labels = (self._template(scope, asked), method, status_class)
            self._series_of(labels).observe(elapsed)

    def _template(self, routed: Scope, asked: Scope) -> str:
        leaves = self._leaf_templates
        if leaves is None:
            leaves = self._leaf_templates = dict(leaf_templates(_routes_of(asked)))
        answered = leaves.get(id(routed.get("route")))
        return answered or route_template(_routes_of(asked), asked) or UNMATCHED

    def _series_of(self, labels: Labels) -> Any:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = HTTP_REQUEST_SECONDS.labels(*labels)
        return series


def _routes_of(asked: Scope) -> Sequence[BaseRoute]:
    routes: Sequence[BaseRoute] = getattr(asked.get("app"), "routes", ())
    return routes


def leaf_templates(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[int, str]]:
    """(id, full template) of every route that answers requests itself, mounts followed."""
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        inner: Sequence[BaseRoute] = getattr(route, "routes", None) or ()
        if inner:
            yield from leaf_templates(inner, path)
        else:
            yield id(route), _leaf_template(route, path)


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
        return _leaf_template(route, path)
    rest = route_template(inner, scope)
    return None if rest is None else path + rest


def _leaf_template(route: BaseRoute, path: str) -> str:
    """A plain route's template, or a mount's of an app without routes (static files, say)."""
    return path if hasattr(route, "endpoint") else path + "/{path}"

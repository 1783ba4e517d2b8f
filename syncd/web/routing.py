"""The pages' router, with the details page found without trying routes.

Starlette's router tries each route's regular expression in turn and makes the
scope of the match; the details page (GET or HEAD of /{token}), most of what
customers open, is its first route, and that route matches every path of one
segment. So such a request is recognised here by looking for a second slash, and
given the scope the route's own match would give it (route, endpoint, path_params);
every other request goes through the router as before.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send


class FirstRouteAhead:
    def __init__(self, router: Router) -> None:
        self.router = router
        first = router.routes[0] if router.routes else None
        self.parameter = one_segment_parameter(first)
        # only a route of one string parameter is matched here; any other goes to the router
        self.route = first if isinstance(first, Route) and self.parameter else None

    @property
    def routes(self) -> list[BaseRoute]:
        """The router's routes (a Mount around this lists them, for metrics and URLs)."""
        return self.router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        segment = self._segment(scope)
        if segment is None or self.route is None or self.parameter is None:  # for the types
            await self.router(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self.router
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), self.parameter: segment}
        await self.route.app(scope, receive, send)

    def _segment(self, scope: Scope) -> str | None:
        """The one segment of the path below the mount, if the first route answers it fully."""
        if scope["type"] != "http" or self.route is None:
            return None
        if self.route.methods is not None and scope["method"] not in self.route.methods:
            return None  # the route would match only partly (a 405 unless another answers)
        path = route_path(scope)
        segment = path[1:]
        return segment if path[:1] == "/" and segment and "/" not in segment else None


def one_segment_parameter(route: BaseRoute | None) -> str | None:
    """The parameter's name when `route` is a plain route of one string parameter, "/{name}"."""
    if not isinstance(route, Route) or not route.path.startswith("/{"):
        return None
    name = route.path[2:-1]
    if route.path != "/{" + name + "}" or not name.isidentifier():
        return None
    return name


def route_path(scope: Scope) -> str:
    """The path below the mount, as Starlette's routes match it."""
    path: str = scope["path"]
    root = str(scope.get("root_path", ""))
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path

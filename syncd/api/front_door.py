"""The door every HTTP request comes in by: the manage pages straight to their own stack,
everything else to the Starlette application.

The customers' manage pages are most of what syncd serves, and through the
application each of them passed four layers that do nothing for it: Starlette's
ServerErrorMiddleware and ExceptionMiddleware (the pages' frame already answers
every exception with a page of its own, syncd.web.frame), the application's
router and the mount's routing of one prefix. Here a request the manage mount
matches goes to the mount's own stack (the frame, the host check, the pages'
routes) at once, timed by a RequestMetrics of its own under the labels the
application's would give it. The scope it gets is the one the application would
give it: `app` (so the pages' router raises its 404 and 405 for the frame to
answer, and the metrics find the application's routes), `router`, and the
mount's match (root_path, path_params).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Receive, Scope, Send

from syncd.ops.http_metrics import RequestMetrics


class FrontDoor:
    def __init__(self, app: Starlette, manage: Mount) -> None:
        self.app = app
        self.manage = manage
        self._prefix = manage.path + "/"
        self._timed_manage = RequestMetrics(manage.app)

    @property
    def routes(self) -> list[BaseRoute]:
        """The application's routes (the manage mount among them)."""
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mounted = self.mounted(scope) if scope["type"] == "http" else None
        if mounted is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        scope["router"] = self.app.router
        asked = dict(scope)
        scope["route"] = self.manage
        scope.update(mounted)
        await self._timed_manage.timed(asked, scope, receive, send)

    def mounted(self, scope: Scope) -> Scope | None:
        """What the manage mount adds to `scope` when it matches (as Mount.matches), else None.

        Served at the root, a path under the mount's prefix always matches it, and the
        match adds the same every time; only other paths (a newline, which its pattern's
        `.*` does not cross) and other roots need its regular expression."""
        path = scope["path"]
        if not scope.get("root_path") and path.startswith(self._prefix) and "\n" not in path:
            return {"path_params": dict(scope.get("path_params", {})),
                    "app_root_path": scope.get("app_root_path", ""),
                    "root_path": self.manage.path, "endpoint": self.manage.app}
        match, mounted = self.manage.matches(scope)
        return mounted if match is Match.FULL else None

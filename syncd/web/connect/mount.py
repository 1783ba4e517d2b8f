"""The connect pages' Mount, beside the manage pages': /connect/{token}..."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from syncd.connect.drafts import Seal
from syncd.connect.m365 import find_app
from syncd.connect.problems import EXPIRED_LINK
from syncd.errors import ConfigError
from syncd.runtime import Runtime
from syncd.timeutil import utcnow
from syncd.web.app import page_web
from syncd.web.connect import m365_pages, pages
from syncd.web.connect.site import ConnectEndpoint, ConnectHandler, ConnectSite
from syncd.web.errors import exception_handlers
from syncd.web.frame import PageFrame
from syncd.web.limits import FailureLimiter
from syncd.web.render import Pages

HEADING = "Connect your calendar"  # atop a page that knows no merchant (a link that opens nothing)
NOT_SET_UP = ("Connecting calendars is not set up on this server yet (no encryption keys). "
              "Nothing was stored. Please tell the business.")


def _routes(site: ConnectSite) -> list[BaseRoute]:
    get, post = ["GET"], ["POST"]

    def route(path: str, handler: ConnectHandler, methods: list[str]) -> Route:
        return Route(path, ConnectEndpoint(site, handler), methods=methods)

    microsoft = [
        route("/m365/callback", m365_pages.callback, ["GET", "POST"]),
        route("/m365/consent", m365_pages.consented, get),
        route("/{token}/m365", m365_pages.choose, get),
        route("/{token}/m365/sign-in", m365_pages.sign_in, get),
        route("/{token}/m365/mailbox", m365_pages.mailbox, post),
    ] if site.m365 is not None else []
    return [
        *microsoft,
        route("/{token}", pages.start, get),
        Mount("/static", app=StaticFiles(packages=[("syncd.web", "static")]), name="static"),
        route("/{token}/caldav", pages.caldav_form, get),
        route("/{token}/caldav", pages.caldav_find, post),
        route("/{token}/calendars", pages.calendars, get),
        route("/{token}/calendars", pages.choose, post),
        route("/{token}/disconnect", pages.disconnect, post),
    ]


def _error_page(rendered: Pages) -> Callable[..., Response]:
    """The manage pages' error page, with the connect link's words for a 404."""

    def error(request: Request, status: int, title: str, text: str,
              headers: dict[str, str] | None = None) -> Response:
        if status == 404:
            title, text = EXPIRED_LINK.title, EXPIRED_LINK.text
        context = {"title": title, "text": text, "status": status, "heading": HEADING}
        return rendered.render(request, "error.html", context, status=status, headers=headers)

    return error


def connect_mount(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    limiter: FailureLimiter | None = None,
    seal: Seal | None = None,
    path: str = "/connect",
) -> Mount:
    """The connect pages bound to `runtime`; `clock`, `limiter` and `seal` for tests."""
    web = page_web(runtime, clock)
    settings = runtime.settings
    public_url = str(settings.manage.public_url) if settings.manage.public_url else None
    app = find_app(settings.connectors, public_url, settings.connect.m365_app)
    site = ConnectSite(web, settings.connect, seal_override=seal, m365=app)
    error = _error_page(web.pages)
    limiter = limiter or FailureLimiter(runtime.settings.manage.failures_per_minute)

    def too_many(scope: object, wait: int) -> Response:
        text = "There were too many unsuccessful attempts from your network. Please try later."
        return error(Request(scope), 429, "Too many attempts", text,  # type: ignore[arg-type]
                     headers={"Retry-After": str(wait)})

    def not_set_up(request: Request, _: Exception) -> Response:
        return error(request, 503, "Not available yet", NOT_SET_UP)

    handlers = {**exception_handlers(error), ConfigError: not_set_up}
    frame = Middleware(PageFrame, limiter=limiter, too_many=too_many, handlers=handlers,
                       error_page=error, allowed_hosts=runtime.settings.manage.allowed_hosts())
    router = Router(_routes(site), redirect_slashes=False)
    return Mount(path, app=router, middleware=[frame])

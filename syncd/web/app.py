"""The customer's manage pages: the Mount syncd.api.create_app puts at /manage.

    /manage/{token}                      details, and which changes are open
    /manage/{token}/reschedule           GET: pick day, staff, time; POST: confirm
    /manage/{token}/reschedule/review    GET: old and new side by side
    /manage/{token}/rescheduled          done
    /manage/{token}/cancel               GET: confirmation step; POST: cancel
    /manage/{token}/cancelled            done
    /manage/{token}/rate                 GET: stars and a comment; POST: rate (a rating link)
    /manage/{token}/rated                done
    /manage/static/manage.css            the one stylesheet

One middleware frames every response (syncd.web.frame): the Host check,
the failure rate limit (429), the pages' own error pages for what the handlers raise (404,
400, 403, 409) and for anything unexpected (500), the security headers. The
routes sit in the Mount itself rather than in an application of their own:
every request is one of these, and a nested application's layers cost each
one more.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.runtime import Runtime
from syncd.timeutil import utcnow
from syncd.web import booking_pages, cancel_pages, rating_pages, reschedule_pages
from syncd.web.context import PageEndpoint, Web, database_limiter
from syncd.web.csrf import CsrfGuard
from syncd.web.errors import exception_handlers
from syncd.web.frame import PageFrame
from syncd.web.limits import FailureLimiter
from syncd.web.reads import PageReads
from syncd.web.render import Pages
from syncd.web.routing import FirstRouteAhead

log = logging.getLogger("syncd.web")
STATIC_CACHE_CONTROL = "public, max-age=86400"  # its URL carries the content's hash


class _CachedStatic:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", STATIC_CACHE_CONTROL.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_cached)


def csrf_key(runtime: Runtime) -> bytes:
    """The CSRF key, derived from the manage secret so it differs from any other use of it."""
    secret = runtime.settings.manage.secret()
    if not secret:
        log.warning(
            "manage.secret_env / manage.secret_file is not set: manage forms are signed with "
            "a key of this process only, so a form sent to another syncd web process is refused"
        )
        secret = secrets.token_urlsafe(32)
    return hmac.new(secret.encode(), b"syncd manage csrf", hashlib.sha256).digest()


def _routes(web: Web) -> list[BaseRoute]:
    static = _CachedStatic(StaticFiles(packages=[("syncd.web", "static")]))
    get, post = ["GET"], ["POST"]
    return [
        Route("/{token}", PageEndpoint(web, booking_pages.details), methods=get),  # most asked
        Mount("/static", app=static, name="static"),
        Route("/{token}/reschedule", PageEndpoint(web, reschedule_pages.choose), methods=get),
        Route("/{token}/reschedule", PageEndpoint(web, reschedule_pages.confirm), methods=post),
        Route("/{token}/reschedule/review", PageEndpoint(web, reschedule_pages.review),
              methods=get),
        Route("/{token}/rescheduled", PageEndpoint(web, booking_pages.rescheduled), methods=get),
        Route("/{token}/cancel", PageEndpoint(web, cancel_pages.ask), methods=get),
        Route("/{token}/cancel", PageEndpoint(web, cancel_pages.confirm), methods=post),
        Route("/{token}/cancelled", PageEndpoint(web, booking_pages.cancelled), methods=get),
        Route("/{token}/rate", PageEndpoint(web, rating_pages.ask), methods=get),
        Route("/{token}/rate", PageEndpoint(web, rating_pages.give), methods=post),
        Route("/{token}/rated", PageEndpoint(web, rating_pages.done), methods=get),
    ]


def page_web(runtime: Runtime, clock: Callable[[], datetime] = utcnow) -> Web:
    """What the page handlers are given: renderer, CSRF guard, database turns and reads."""
    secure = str(runtime.settings.manage.public_url or "").lower().startswith("https://")
    csrf = CsrfGuard(csrf_key(runtime), secure=secure)
    turns = database_limiter(runtime)
    return Web(runtime, Pages(csrf), csrf, clock, turns, PageReads(runtime.engine, turns))


def manage_mount(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    limiter: FailureLimiter | None = None,
    path: str = "/manage",
) -> Mount:
    """The manage pages bound to `runtime`; `clock` and `limiter` are replaceable for tests."""
    web = page_web(runtime, clock)
    pages = web.pages
    limiter = limiter or FailureLimiter(runtime.settings.manage.failures_per_minute)

    def too_many(scope: Scope, wait: int) -> Response:
        text = "There were too many unsuccessful attempts from your network. Please try later."
        return pages.error(Request(scope), 429, "Too many attempts", text,
                           headers={"Retry-After": str(wait)})

    # other Host headers are refused, so nothing built from one can point elsewhere
    frame = Middleware(PageFrame, limiter=limiter, too_many=too_many,
                       handlers=exception_handlers(pages.error), error_page=pages.error,
                       allowed_hosts=runtime.settings.manage.allowed_hosts())
    # Starlette's own slash redirects are absolute, built from the Host header
    router = Router([*_routes(web), Route("/{page:path}/", _without_slash)],
                    redirect_slashes=False)
    return Mount(path, app=FirstRouteAhead(router), middleware=[frame])


async def _without_slash(request: Request) -> Response:
    """`/manage/<token>/…/` → `/manage/<token>/…`, as a relative redirect."""
    page = str(request.path_params["page"]).strip("/")
    if not page:
        raise HTTPException(404)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/{page}", status_code=308)

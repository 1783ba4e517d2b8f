"""The customer's manage pages, mounted by syncd.api.create_app under /manage.

    /manage/{token}                      details, and which changes are open
    /manage/{token}/reschedule           GET: pick day, staff, time; POST: confirm
    /manage/{token}/reschedule/review    GET: old and new side by side
    /manage/{token}/rescheduled          done
    /manage/{token}/cancel               GET: confirmation step; POST: cancel
    /manage/{token}/cancelled            done
    /manage/static/manage.css            the one stylesheet

Middleware, outermost first: security headers on every response; the failure
rate limit (429); unexpected errors as a 500 page.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.runtime import Runtime
from syncd.timeutil import utcnow
from syncd.web import booking_pages, cancel_pages, reschedule_pages
from syncd.web.context import Web, bind, database_limiter
from syncd.web.csrf import CsrfGuard
from syncd.web.errors import UnexpectedPageErrors, exception_handlers
from syncd.web.headers import SecurityHeaders
from syncd.web.limits import FailureLimiter, LimitFailures
from syncd.web.reads import PageReads
from syncd.web.render import Pages

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
    return [
        Mount("/static", app=static, name="static"),
        Route("/{token}", bind(web, booking_pages.details)),
        Route("/{token}/reschedule", bind(web, reschedule_pages.choose)),
        Route("/{token}/reschedule", bind(web, reschedule_pages.confirm), methods=["POST"]),
        Route("/{token}/reschedule/review", bind(web, reschedule_pages.review)),
        Route("/{token}/rescheduled", bind(web, booking_pages.rescheduled)),
        Route("/{token}/cancel", bind(web, cancel_pages.ask)),
        Route("/{token}/cancel", bind(web, cancel_pages.confirm), methods=["POST"]),
        Route("/{token}/cancelled", bind(web, booking_pages.cancelled)),
    ]


def manage_app(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    limiter: FailureLimiter | None = None,
) -> Starlette:
    """The manage pages bound to `runtime`; `clock` and `limiter` are replaceable for tests."""
    settings = runtime.settings.manage
    secure = str(settings.public_url or "").lower().startswith("https://")
    csrf = CsrfGuard(csrf_key(runtime), secure=secure)
    pages = Pages(csrf)
    turns = database_limiter(runtime)
    web = Web(runtime, pages, csrf, clock, turns, PageReads(runtime.engine, turns))
    limiter = limiter or FailureLimiter(settings.failures_per_minute)

    def too_many(scope: Scope, wait: int) -> Response:
        text = "There were too many unsuccessful attempts from your network. Please try later."
        return pages.error(Request(scope), 429, "Too many attempts", text,
                           headers={"Retry-After": str(wait)})

    middleware = [
        Middleware(SecurityHeaders),
        Middleware(LimitFailures, limiter=limiter, too_many=too_many),
        Middleware(UnexpectedPageErrors, error_page=pages.error),
    ]
    return Starlette(routes=_routes(web), middleware=middleware,
                     exception_handlers=exception_handlers(pages.error))

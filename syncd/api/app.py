"""The admin and platform JSON API, under /api/v1."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from syncd.api import (
    routes_bookings,
    routes_catalog,
    routes_mirrors,
    routes_notify,
    routes_webhooks,
)
from syncd.api.auth import BearerAuth
from syncd.api.errors import EXCEPTION_HANDLERS, UnexpectedErrors
from syncd.runtime import Runtime


def _key_source(runtime: Runtime) -> str:
    api = runtime.settings.api
    where = [f"environment variable {api.key_env}" if api.key_env else "",
             f"file {api.key_file}" if api.key_file else ""]
    return "set " + " or ".join(w for w in where if w) if any(where) else "set api.key_env"


def create_app(runtime: Runtime) -> Starlette:
    """Everything syncd serves over HTTP: health outside the API's key, the API inside it."""
    routes = [Route("/healthz", healthz), Mount("", app=create_api(runtime))]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)


async def healthz(_: Request) -> JSONResponse:
    """Alive: the process answers. (Readiness, with the database, is a separate question.)"""
    return JSONResponse({"status": "ok"})


def create_api(runtime: Runtime) -> Starlette:
    """The API bound to `runtime`; the key is read once, here."""
    middleware = [
        Middleware(UnexpectedErrors),
        Middleware(BearerAuth, key=runtime.settings.api_key(), key_source=_key_source(runtime)),
    ]
    routes = [
        *routes_catalog.routes(runtime),
        *routes_bookings.routes(runtime),
        *routes_mirrors.routes(runtime),
        *routes_notify.routes(runtime),
        *routes_webhooks.routes(runtime),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)

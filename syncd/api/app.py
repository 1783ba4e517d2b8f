"""The admin and platform JSON API, under /api/v1."""

from __future__ import annotations

from functools import partial

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from syncd.api import openapi
from syncd.api.auth import BearerAuth
from syncd.api.errors import EXCEPTION_HANDLERS, UnexpectedErrors
from syncd.api.route_modules import ROUTE_MODULES
from syncd.ops.health import Readiness
from syncd.ops.http_metrics import RequestMetrics
from syncd.reconcile.push.endpoint import push_mounts
from syncd.runtime import Runtime
from syncd.web.app import manage_mount
from syncd.web.connect.mount import connect_mount


def _key_source(runtime: Runtime) -> str:
    api = runtime.settings.api
    where = [f"environment variable {api.key_env}" if api.key_env else "",
             f"file {api.key_file}" if api.key_file else ""]
    return "set " + " or ".join(w for w in where if w) if any(where) else "set api.key_env"


def create_app(runtime: Runtime, *, readiness: Readiness | None = None) -> Starlette:
    """Everything syncd serves over HTTP: health outside the API's key, the API inside it.
    `readiness` carries the worker's heartbeat when the worker runs in this process."""
    ready = readiness or Readiness(runtime.engine)
    routes = [
        manage_mount(runtime),  # the customer's pages, outside the API key; asked for most
        Route("/healthz", healthz),
        Route("/readyz", partial(readyz, ready)),
        *push_mounts(runtime),  # services' change notifications, outside the API key
        connect_mount(runtime),  # staff connect their calendars, outside the API key
        Mount("", app=create_api(runtime)),
    ]
    middleware = [Middleware(RequestMetrics)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)


async def healthz(_: Request) -> JSONResponse:
    """Alive: the process answers. (Readiness, with the database, is a separate question.)"""
    return JSONResponse({"status": "ok"})


async def readyz(readiness: Readiness, _: Request) -> JSONResponse:
    """Ready: 200 when every check passes, else 503 naming the failing ones."""
    report = await run_in_threadpool(readiness.report)
    return JSONResponse(report.body(), status_code=200 if report.ready else 503)


def create_api(runtime: Runtime) -> Starlette:
    """The API bound to `runtime`; the key is read once, here."""
    middleware = [
        Middleware(UnexpectedErrors),
        Middleware(BearerAuth, key=runtime.settings.api_key(), key_source=_key_source(runtime)),
    ]
    routes = [route for module in ROUTE_MODULES for route in module.routes(runtime)]
    routes += openapi.routes()
    return Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)

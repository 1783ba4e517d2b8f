"""What every endpoint does around its own work: path keys, cursors, one transaction, replies.

Each request's writes happen in one transaction, run in a worker thread, so a
request that fails stores nothing. A unique-key race (two requests creating
the same booking at once) makes the loser's insert fail; it is retried once,
when the winner's row is visible, and only then reported as a conflict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.api.bodies import read_json_object
from syncd.errors import NotFound
from syncd.runtime import Runtime
from syncd.schemas import Key
from syncd.store.db import in_transaction
from syncd.store.session import SyncdSession

T = TypeVar("T")
Handler = Callable[[Runtime, Request], Awaitable[Response]]
API_PREFIX = "/api/v1"
# Ids are INTEGER keys, which on PostgreSQL hold no more: a path naming a larger id names
# nothing, and a cursor past it is compared as this one (bound as a larger number it is refused)
MAX_ID = 2**31 - 1
MAX_CURSOR = 2**63 - 1
_KEY: TypeAdapter[str] = TypeAdapter(Key)


def _within_ids(cursor: int) -> int:
    return min(cursor, MAX_ID)


# A page's cursor: the last id of the page before; past every storable id, an empty page
AfterCursor = Annotated[int, Field(ge=0, le=MAX_CURSOR), AfterValidator(_within_ids)]


def path_key(request: Request, name: str) -> str:
    """A key from the path; one that no payload could have created names nothing."""
    value = str(request.path_params[name])
    try:
        return _KEY.validate_python(value)
    except ValidationError:
        shown = value[:140]
        raise NotFound(f"{name} {shown!r} (keys are 1-128 letters, digits or ._:~-)") from None


def path_keys(request: Request, *names: str) -> tuple[str, ...]:
    return tuple(path_key(request, name) for name in names)


async def transact(runtime: Runtime, work: Callable[[SyncdSession], T]) -> T:
    return await run_in_threadpool(in_transaction, runtime.sessions, work)


def reply(body: dict[str, Any], created: bool = False) -> JSONResponse:
    return JSONResponse(body, status_code=201 if created else 200)


async def read_body(runtime: Runtime, request: Request) -> dict[str, Any]:
    return await read_json_object(request, runtime.settings.api.max_body_bytes)


def resource(runtime: Runtime, path: str, **handlers: Handler) -> Route:
    """One route for `path` whose methods are the keyword names (get=..., put=...)."""

    async def endpoint(request: Request) -> Response:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return await handlers[method](runtime, request)

    methods = [method.upper() for method in handlers]
    return Route(API_PREFIX + path, endpoint, methods=methods, name=path)

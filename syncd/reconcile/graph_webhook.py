"""Microsoft Graph's notifications: POST /graph/notifications and POST /graph/lifecycle.

Outside the API's bearer key (Graph cannot send one). What vouches for a
notification instead is its subscription's clientState, a secret only Graph and
syncd know (syncd keeps its hash): a notification naming an unknown
subscription or carrying a wrong clientState is refused (403), counted and
logged without the secret, and changes nothing.

- `?validationToken=...`, Graph's handshake while a subscription is being
  made: the token comes back as text/plain with 200, at once.
- A notification makes its mailbox's calendars due for a reconcile pass and
  wakes the worker after the commit; the worker reads the changes. No Graph
  request is made here, and the answer (202) leaves within 3 s: a database
  slower than ACK_SECONDS finishes in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from syncd import metrics
from syncd.reconcile.graph_subscriptions import Notice, take_in
from syncd.runtime import Runtime

log = logging.getLogger("syncd.reconcile")
MAX_BODY_BYTES = 1 << 20
MAX_TOKEN_LENGTH = 1024
ACK_SECONDS = 2.5  # Graph wants an answer within 3 s
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_unfinished: set[asyncio.Future[list[Notice]]] = set()  # slow commits, kept until they finish


class BadNotificationError(ValueError):
    """A body that is not a Graph notification."""


def graph_webhook_app(runtime: Runtime) -> Starlette:
    """Mounted at /graph by syncd.api.create_app."""
    receive = partial(_receive, runtime)
    return Starlette(routes=[
        Route("/notifications", receive, methods=["POST"]),
        Route("/lifecycle", receive, methods=["POST"]),
    ])


async def _receive(runtime: Runtime, request: Request) -> Response:
    token = request.query_params.get("validationToken")
    if token is not None:
        return _validated(token)
    try:
        notices = read_notices(await _body(request))
    except BadNotificationError as error:
        return PlainTextResponse(str(error), status_code=400, headers=_HEADERS)
    refused = await _take_in(runtime, notices)
    _count(notices, refused)
    if refused:
        return PlainTextResponse("unknown subscription or wrong clientState", status_code=403,
                                 headers=_HEADERS)
    return Response(status_code=202, headers=_HEADERS)


def _validated(token: str) -> Response:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return PlainTextResponse("bad validationToken", status_code=400, headers=_HEADERS)
    return PlainTextResponse(token, headers=_HEADERS)


async def _body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadNotificationError("notification too large")
    return bytes(body)


def read_notices(body: bytes) -> list[Notice]:
    """The items of a notification POST (`{"value": [...]}`); `BadNotificationError` if none."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadNotificationError("not JSON") from None
    items = data.get("value") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise BadNotificationError('no "value" list')
    return [_notice(item) for item in items]


def _notice(item: Any) -> Notice:
    if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
        return Notice("", None)  # names no subscription: refused like a wrong clientState
    lifecycle = item.get("lifecycleEvent")
    return Notice(item["subscriptionId"][:200], item.get("clientState"),
                  lifecycle if isinstance(lifecycle, str) else None)


async def _take_in(runtime: Runtime, notices: list[Notice]) -> list[Notice]:
    """The refused notices; none when the database was too slow to say in time."""
    if not notices:
        return []
    work = asyncio.ensure_future(run_in_threadpool(_in_transaction, runtime, notices))
    try:
        return await asyncio.wait_for(asyncio.shield(work), ACK_SECONDS)
    except TimeoutError:
        _unfinished.add(work)
        work.add_done_callback(_unfinished.discard)
        log.warning("Graph notification acknowledged before its commit finished")
        return []


def _in_transaction(runtime: Runtime, notices: list[Notice]) -> list[Notice]:
    with runtime.sessions.begin() as session:
        return take_in(session, notices)


def _count(notices: list[Notice], refused: list[Notice]) -> None:
    for notice in notices:
        kind = "change" if notice.lifecycle is None else "lifecycle"
        outcome = "rejected" if notice in refused else "accepted"
        metrics.GRAPH_NOTIFICATIONS.labels(kind, outcome).inc()
    for notice in refused:
        log.warning("Graph notification refused: unknown subscription or wrong clientState",
                    extra={"subscription": notice.subscription_id[:64]})

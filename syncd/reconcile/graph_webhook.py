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
- Bounded work for anyone on the internet: a body over MAX_BODY_BYTES is refused
  with 413 before it is read in full, more than MAX_ITEMS items with 413, JSON
  nested deeper than Python's parser goes with 400. Graph batches a few items
  per POST (a change notification without resource data is under 1 KiB), so
  the caps leave real traffic far below them. Parsing and the one database
  look-up of all the subscription ids run off the event loop; refused items
  make one log line per POST.
- Mounted only when a Microsoft 365 connector is configured (syncd.api.app).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
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
MAX_BODY_BYTES = 256 * 1024
MAX_ITEMS = 1000
MAX_TOKEN_LENGTH = 1024
ACK_SECONDS = 2.5  # Graph wants an answer within 3 s
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_unfinished: set[asyncio.Future[list[Notice]]] = set()  # slow commits, kept until they finish


class BadNotificationError(ValueError):
    """A body that is not a Graph notification."""

    status_code = 400


class TooLargeError(BadNotificationError):
    """A body or an item list over the caps."""

    status_code = 413


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
        notices = await run_in_threadpool(read_notices, await _body(request))
    except BadNotificationError as error:
        return PlainTextResponse(str(error), status_code=error.status_code, headers=_HEADERS)
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
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
        raise TooLargeError("notification too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLargeError("notification too large")
    return bytes(body)


def read_notices(body: bytes) -> list[Notice]:
    """The items of a notification POST (`{"value": [...]}`); `BadNotificationError` if none."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadNotificationError("not JSON") from None
    except RecursionError:
        raise BadNotificationError("JSON nested too deeply") from None
    items = data.get("value") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise BadNotificationError('no "value" list')
    if len(items) > MAX_ITEMS:
        raise TooLargeError(f"more than {MAX_ITEMS} items in one notification")
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
    rejected = set(refused)
    outcomes = Counter(
        ("change" if n.lifecycle is None else "lifecycle",
         "rejected" if n in rejected else "accepted")
        for n in notices
    )
    for (kind, outcome), count in outcomes.items():
        metrics.GRAPH_NOTIFICATIONS.labels(kind, outcome).inc(count)
    if refused:
        log.warning("Graph notification refused: %d item(s) with an unknown subscription or a "
                    "wrong clientState", len(refused),
                    extra={"subscription": refused[0].subscription_id[:64]})

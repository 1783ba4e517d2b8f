"""The services' notification POSTs: `/push/<kind>/...` for every configured connector kind
with a push feed (connectors/push.py), for its configured connectors and the accounts of
that kind stored as data, and the feed's former prefixes (Microsoft 365's
`/graph/notifications` and `/graph/lifecycle`, where subscriptions made before still point).

Outside the API's bearer key (a service cannot send one). What vouches for a
notice instead is its subscription's client state, a secret only the service and
syncd know (syncd keeps its hash): a notice naming an unknown subscription or
carrying a wrong client state is refused (403), counted and logged without the
secret, and changes nothing. The feed knows the service's wire format; what is
done here is the same for every service:

- The service's handshake while a subscription is being made (Graph's
  `?validationToken=...`) is answered at once, as text/plain, by the feed.
- A notice makes its calendars due for a reconcile pass and wakes the worker
  after the commit (syncd/reconcile/push/notices.py); the worker reads the
  changes. No request to the service is made here, and the answer (202) leaves
  within the feed's `answer_within_seconds` (Graph: 2.5 s of the 3 s it waits):
  a database slower than that finishes in the background.
- Bounded work for anyone on the internet: a body over the feed's
  `max_body_bytes` is refused with 413 before it is read in full; the feed
  refuses too many items (413) and unreadable bodies (400). Parsing and the one
  database look-up of all the subscription ids run off the event loop; refused
  items make one log line per POST.
- A kind that is installed but not configured has nothing there: its paths
  answer 404 before a body is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router

from connectors import push_feeds
from connectors.instrumentation import observer
from connectors.push import BadPushBodyError, PushBodyTooLargeError, PushFeed, PushNotice
from syncd.config.push import PUSH_PREFIX
from syncd.reconcile.push.notices import take_in
from syncd.runtime import Runtime

log = logging.getLogger("syncd.reconcile")
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_unfinished: set[asyncio.Future[list[PushNotice]]] = set()  # slow commits, kept until done


@dataclass(frozen=True)
class ServedFeed:
    """One kind's feed as this process serves it: for the configured connectors (names) of
    that kind, and the stored accounts of that kind (a stored account's kind needs its
    app in the config: a Microsoft 365 account its app registration's table)."""

    runtime: Runtime
    kind: str
    feed: PushFeed
    connectors: frozenset[str]


def push_mounts(runtime: Runtime) -> list[Mount]:
    """Mounted by syncd.api.create_app, ahead of the API: `/push/<kind>` for each configured
    kind with a feed, and every installed feed's former prefixes (empty, answering 404,
    where the kind is not configured)."""
    names: defaultdict[str, set[str]] = defaultdict(set)
    for name, table in runtime.settings.connectors.items():
        names[str(table.get("kind"))].add(name)
    feeds = push_feeds()
    served = {
        kind: feed_app(ServedFeed(runtime, kind, feed, frozenset(names[kind])))
        for kind, feed in feeds.items() if kind in names
    }
    mounts = [Mount(PUSH_PREFIX, app=Router([Mount(f"/{k}", app=a) for k, a in served.items()]))]
    for kind, feed in feeds.items():
        mounts += [Mount(prefix, app=served.get(kind, Router())) for prefix in feed.former_prefixes]
    return mounts


def feed_app(served: ServedFeed) -> Starlette:
    receive = partial(_receive, served)
    paths = served.feed.paths
    return Starlette(routes=[
        Route(path, receive, methods=["POST"]) for path in (paths.notifications, paths.lifecycle)
    ])


async def _receive(served: ServedFeed, request: Request) -> Response:
    handshake = served.feed.handshake(request.query_params)
    if handshake is not None:
        return PlainTextResponse(handshake.text, status_code=handshake.status, headers=_HEADERS)
    try:
        body = await _body(request, served.feed.max_body_bytes)
        notices = await run_in_threadpool(served.feed.read, body)
    except BadPushBodyError as error:
        return PlainTextResponse(str(error), status_code=error.status_code, headers=_HEADERS)
    refused = await _take_in(served, notices)
    _count(served.kind, notices, refused)
    if refused:
        return PlainTextResponse("unknown subscription or wrong client state", status_code=403,
                                 headers=_HEADERS)
    return Response(status_code=202, headers=_HEADERS)


async def _body(request: Request, limit: int) -> bytes:
    if int(request.headers.get("Content-Length") or 0) > limit:
        raise PushBodyTooLargeError("notification too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PushBodyTooLargeError("notification too large")
    return bytes(body)


async def _take_in(served: ServedFeed, notices: list[PushNotice]) -> list[PushNotice]:
    """The refused notices; none when the database was too slow to say in time."""
    if not notices:
        return []
    work = asyncio.ensure_future(run_in_threadpool(_in_transaction, served, notices))
    try:
        return await asyncio.wait_for(asyncio.shield(work), served.feed.answer_within_seconds)
    except TimeoutError:
        _unfinished.add(work)
        work.add_done_callback(_unfinished.discard)
        log.warning("push notification acknowledged before its commit finished",
                    extra={"connector_kind": served.kind})
        return []


def _in_transaction(served: ServedFeed, notices: list[PushNotice]) -> list[PushNotice]:
    with served.runtime.sessions.begin() as session:
        return take_in(session, notices, served.connectors, served.kind)


def _count(kind: str, notices: list[PushNotice], refused: list[PushNotice]) -> None:
    rejected = set(refused)
    outcomes = Counter(
        ("lifecycle" if n.about_subscription else "change",
         "rejected" if n in rejected else "accepted")
        for n in notices
    )
    for (notice, outcome), count in outcomes.items():
        observer(kind).notified(notice, outcome, count)
    if refused:
        log.warning("push notification refused: %d item(s) with an unknown subscription or a "
                    "wrong client state", len(refused),
                    extra={"connector_kind": kind, "subscription": refused[0].subscription_id[:64]})

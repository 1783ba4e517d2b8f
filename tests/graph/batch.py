"""POST /$batch: JSON batching (learn.microsoft.com/graph/json-batching).

The batch is 400 as a whole when malformed: not a {"requests": [...]} object, more than
20 requests, an id repeated (ids compare without regard to case), a missing
id/method/url, an absolute url, a body without a Content-Type header, or a dependsOn
naming an unknown request or forming a cycle. Otherwise it is 200 and each item has its
own status, headers and body. Items run at most 4 at a time, as Graph hands them to
Outlook; each goes through the same limits, faults and latency as a request of its own;
an item whose dependency failed is 424. Responses come in completion order.

Throttling (concepts/throttling.md, "Throttling and batching"): when an item was
throttled the batch as a whole "fails with a status code of 424", its items still in
the body; `faults.batch_throttle_rate` makes a batch 424 with no items at all (none
ran) and a Retry-After, as a client must also expect.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.graph.errors import GraphError, Reply, bad_request, graph_error_body
from tests.graph.graph import Call, Pipeline

MAX_REQUESTS = 20
PARALLEL_ITEMS = 4
METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


@dataclass
class Item:
    id: str
    call: Call
    depends_on: list[str] = field(default_factory=list)


def _invalid(detail: str) -> GraphError:
    return bad_request(f"Invalid batch payload format: {detail}")


def parse_batch(outer: Call) -> list[Item]:
    payload = outer.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
        raise _invalid("the body must be an object with a 'requests' array.")
    requests = payload["requests"]
    if not requests:
        raise _invalid("'requests' is empty.")
    if len(requests) > MAX_REQUESTS:
        raise bad_request("Number of requests inside batch exceeds the limit.")
    items = [_item(request, outer) for request in requests]
    _check_ids(items)
    return items


def _item(request: Any, outer: Call) -> Item:
    if not isinstance(request, dict):
        raise _invalid("each request must be an object.")
    item_id, method, url = (_text(request, name) for name in ("id", "method", "url"))
    if method.upper() not in METHODS:
        raise _invalid(f"method '{method}' is not supported.")
    headers = {str(k).lower(): str(v) for k, v in (request.get("headers") or {}).items()}
    body = _body(request, headers)
    depends_on = request.get("dependsOn") or []
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise _invalid("dependsOn must be an array of request ids.")
    path, query = _relative(url)
    call = Call(
        method.upper(),
        path,
        query,
        headers,
        body,
        outer.arrived,
        outer.principal,
        outer.is_disconnected,
    )
    return Item(item_id, call, depends_on)


def _text(request: dict[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid("each request needs an id, a method and a url.")
    return value


def _body(request: dict[str, Any], headers: dict[str, str]) -> bytes:
    if "body" not in request or request["body"] is None:
        return b""
    if "content-type" not in headers:
        raise _invalid("a request with a body must have a Content-Type header.")
    body = request["body"]
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def _relative(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise _invalid(f"url '{url}' must be relative to the service root, e.g. '/users'.")
    path = "/" + unquote(parts.path).lstrip("/")
    if path.lower().startswith("/$batch"):
        raise _invalid("a batch cannot contain a batch.")
    return path, {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}


def _check_ids(items: list[Item]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id.lower() in seen:
            raise _invalid(f"request id '{item.id}' is duplicated; ids must be unique.")
        seen.add(item.id.lower())
    for item in items:
        for dependency in item.depends_on:
            if dependency.lower() not in seen:
                raise _invalid(f"request '{item.id}' depends on unknown request '{dependency}'.")
    _check_acyclic(items)


def _check_acyclic(items: list[Item]) -> None:
    edges = {i.id.lower(): [d.lower() for d in i.depends_on] for i in items}
    state: dict[str, int] = {}

    def visit(node: str) -> None:
        if state.get(node) == 1:
            raise _invalid("dependsOn forms a cycle.")
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in edges[node]:
            visit(nxt)
        state[node] = 2

    for node in edges:
        visit(node)


class BatchRunner:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def run(self, outer: Call) -> Reply:
        items = parse_batch(outer)
        state = self.pipeline.state
        if state.faults.throttles_batch():
            return _throttled_whole(state.faults.retry_after_seconds)
        with state.stats_lock:
            state.stats.batch_items += len(items)
        done = {item.id.lower(): asyncio.Event() for item in items}
        results: dict[str, Reply] = {}
        order: list[str] = []
        gate = asyncio.Semaphore(PARALLEL_ITEMS)

        async def execute(item: Item) -> None:
            for dependency in item.depends_on:
                await done[dependency.lower()].wait()
            if any(results[d.lower()].status >= 400 for d in item.depends_on):
                results[item.id.lower()] = _failed_dependency(item)
            else:
                async with gate:
                    results[item.id.lower()] = await self.pipeline.execute(item.call)
            state.log(item.call.method, f"$batch {item.call.path}", results[item.id.lower()].status)
            order.append(item.id)
            done[item.id.lower()].set()

        await asyncio.gather(*(execute(item) for item in items))
        responses = [_response(item_id, results[item_id.lower()]) for item_id in order]
        dropped = any(r.drop_connection for r in results.values())
        throttled = any(r.status == 429 for r in results.values())
        return Reply(424 if throttled else 200, {"responses": responses}, drop_connection=dropped)


def _throttled_whole(retry_after: float) -> Reply:
    body = graph_error_body("TooManyRequests", "Too many requests in this batch.", None)
    return Reply(424, body, {"Retry-After": f"{retry_after:g}"})


def _failed_dependency(item: Item) -> Reply:
    body = graph_error_body(
        "FailedDependency",
        "A request this request depends on failed.",
        item.call.headers.get("client-request-id"),
    )
    return Reply(424, body)


def _response(item_id: str, reply: Reply) -> dict[str, Any]:
    headers = dict(reply.headers)
    response: dict[str, Any] = {"id": item_id, "status": reply.status, "headers": headers}
    if reply.body is not None:
        headers["Content-Type"] = "application/json"
        response["body"] = reply.body
    return response

"""The per-mailbox batcher and limiter against a scripted Graph (no HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.m365.auth import TokenSource
from connectors.m365.batch import Batcher, BatchOptions
from connectors.m365.http import GraphRequest, GraphResponse, NotSent, TransportFailure
from connectors.m365.limiter import MailboxLimiter
from syncd.errors import AuthError, TransientError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

Answer = Callable[[GraphRequest, int], GraphResponse | Exception]


def ok(request: GraphRequest, attempt: int) -> GraphResponse:
    return GraphResponse(200, {}, {"url": request.url, "attempt": attempt})


@dataclass
class ScriptedGraph:
    """Answers each request (a batch item or a single request) by `answer(request, attempt)`."""

    answer: Answer = ok
    sent: list[tuple[float, str, int]] = field(default_factory=list)  # (time, kind, size)
    tokens: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    whole_batch: GraphResponse | None = None

    async def exchange(self, request: GraphRequest, token: str) -> GraphResponse:
        self.tokens.append(token)
        await asyncio.sleep(0.01)
        if request.url != "/$batch":
            self.sent.append((time.monotonic(), "single", 1))
            return self._answer(request)
        items = request.body["requests"]
        self.sent.append((time.monotonic(), "batch", len(items)))
        if self.whole_batch is not None:
            refused, self.whole_batch = self.whole_batch, None
            return refused
        responses = []
        for item in items:
            inner = GraphRequest(item["method"], item["url"], item.get("headers", {}))
            answer = self._answer(inner)
            responses.append({"id": item["id"], "status": answer.status,
                              "headers": dict(answer.headers), "body": answer.body})
        return GraphResponse(200, {}, {"responses": list(reversed(responses))})

    def _answer(self, request: GraphRequest) -> GraphResponse:
        attempt = self.attempts[request.url] = self.attempts.get(request.url, 0) + 1
        result = self.answer(request, attempt)
        if isinstance(result, Exception):
            raise result
        return result

    def relative(self, url: str) -> str:
        return url


class FakeMsal:
    """MSAL's confidential client as TokenSource uses it."""

    def __init__(self, refuse: bool = False) -> None:
        self.issued = 0
        self.refuse = refuse
        self.token_cache = FakeCache()

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        if self.refuse:
            return {"error": "invalid_client", "error_codes": [7000215]}
        if self.token_cache.token is None:
            self.issued += 1
            self.token_cache.token = f"token-{self.issued}"
        return {"access_token": self.token_cache.token, "expires_in": 3599}


class FakeCache:
    def __init__(self) -> None:
        self.token: str | None = None

    def search(self, kind: str) -> list[dict[str, str]]:
        return [{"secret": self.token}] if self.token else []

    def remove_at(self, entry: dict[str, str]) -> None:
        self.token = None


def make_batcher(
    graph: ScriptedGraph, msal: FakeMsal | None = None, **options: Any
) -> tuple[Batcher, MailboxLimiter, TokenSource]:
    app = msal or FakeMsal()
    tokens = TokenSource(lambda: app, "https://graph.test/.default", httpx.Client())
    limiter = MailboxLimiter(4)
    settings = BatchOptions(**{"retry_base_seconds": 0.01, "retry_max_seconds": 0.05, **options})
    return Batcher(graph, tokens, limiter, settings), limiter, tokens  # type: ignore[arg-type]


def get(number: int) -> GraphRequest:
    return GraphRequest("GET", f"/users/anna/events/{number}")


async def test_concurrent_requests_share_one_batch() -> None:
    graph = ScriptedGraph()
    batcher, _, tokens = make_batcher(graph)
    answers = await asyncio.gather(*(batcher.send(get(i)) for i in range(25)))
    assert [a.body["url"] for a in answers] == [get(i).url for i in range(25)]
    assert [(kind, size) for _, kind, size in graph.sent] == [("batch", 20), ("batch", 5)]
    tokens.close()


async def test_a_lone_request_goes_as_itself() -> None:
    graph = ScriptedGraph()
    batcher, _, tokens = make_batcher(graph)
    assert (await batcher.send(get(1))).status == 200
    assert [(kind, size) for _, kind, size in graph.sent] == [("single", 1)]
    tokens.close()


async def test_a_throttled_item_waits_for_its_retry_after() -> None:
    def throttle_first(request: GraphRequest, attempt: int) -> GraphResponse:
        if request.url.endswith("/3") and attempt == 1:
            return GraphResponse(429, {"retry-after": "0.3"}, None)
        return ok(request, attempt)

    graph = ScriptedGraph(throttle_first)
    batcher, _, tokens = make_batcher(graph)
    answers = await asyncio.gather(*(batcher.send(get(i)) for i in range(6)))
    assert all(a.status == 200 for a in answers)
    (first, _, _), (second, kind, size) = graph.sent
    assert (kind, size) == ("single", 1)
    assert second - first >= 0.3
    tokens.close()


async def test_a_throttled_batch_is_sent_again_whole() -> None:
    graph = ScriptedGraph(whole_batch=GraphResponse(429, {"retry-after": "0.1"}, None))
    batcher, _, tokens = make_batcher(graph)
    answers = await asyncio.gather(*(batcher.send(get(i)) for i in range(3)))
    assert [a.status for a in answers] == [200, 200, 200]
    assert [size for _, _, size in graph.sent] == [3, 3]
    tokens.close()


async def test_throttled_too_often_is_answered_as_throttled() -> None:
    graph = ScriptedGraph(lambda r, a: GraphResponse(503, {"retry-after": "0.01"}, None))
    batcher, _, tokens = make_batcher(graph, throttle_retries=2)
    assert (await batcher.send(get(1))).status == 503
    assert len(graph.sent) == 3
    tokens.close()


async def test_a_refused_token_is_replaced_once() -> None:
    def expired_once(request: GraphRequest, attempt: int) -> GraphResponse:
        return GraphResponse(401, {}, None) if attempt == 1 else ok(request, attempt)

    graph, msal = ScriptedGraph(expired_once), FakeMsal()
    batcher, _, tokens = make_batcher(graph, msal)
    answers = await asyncio.gather(*(batcher.send(get(i)) for i in range(3)))
    assert [a.status for a in answers] == [200, 200, 200]
    assert graph.tokens == ["token-1", "token-2"]
    assert msal.issued == 2
    tokens.close()


async def test_a_token_refused_twice_reaches_the_caller() -> None:
    graph = ScriptedGraph(lambda r, a: GraphResponse(401, {}, None))
    batcher, _, tokens = make_batcher(graph)
    assert (await batcher.send(get(1))).status == 401
    assert len(graph.sent) == 2
    tokens.close()


async def test_refused_credentials_fail_every_waiting_request() -> None:
    graph = ScriptedGraph()
    batcher, _, tokens = make_batcher(graph, FakeMsal(refuse=True))
    results = await asyncio.gather(*(batcher.send(get(i)) for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, AuthError) and "AADSTS7000215" in str(r) for r in results)
    assert graph.sent == []
    tokens.close()


async def test_requests_without_an_answer_are_sent_again_then_given_up() -> None:
    def dropped_twice(request: GraphRequest, attempt: int) -> GraphResponse | Exception:
        return TransportFailure("dropped") if attempt <= 2 else ok(request, attempt)

    graph = ScriptedGraph(dropped_twice)
    batcher, _, tokens = make_batcher(graph)
    assert (await batcher.send(get(1))).body["attempt"] == 3
    graph.answer = lambda r, a: TransportFailure("down")
    with pytest.raises(TransientError, match="down"):
        await batcher.send(get(2))
    tokens.close()


async def test_requests_that_never_left_are_tried_longer_than_unanswered_ones() -> None:
    # No connection to be had (the shared pool stayed full, connecting timed out) says
    # nothing of the mailbox: more tries than a request that may have run.
    def no_connection_six_times(request: GraphRequest, attempt: int) -> GraphResponse | Exception:
        return NotSent("PoolTimeout") if attempt <= 6 else ok(request, attempt)

    graph = ScriptedGraph(no_connection_six_times)
    batcher, _, tokens = make_batcher(graph)
    assert (await batcher.send(get(1))).body["attempt"] == 7
    graph.answer = lambda r, a: NotSent("ConnectTimeout")
    with pytest.raises(TransientError, match="ConnectTimeout"):
        await batcher.send(get(2))
    assert graph.attempts[get(2).url] == 11
    tokens.close()


async def test_slots_never_exceed_the_mailbox_limit() -> None:
    limiter = MailboxLimiter(4)
    peak = 0

    async def use(requests: int) -> None:
        nonlocal peak
        async with limiter.slots(requests):
            peak = max(peak, limiter.in_use)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(use(n) for n in (1, 3, 20, 2, 1, 4, 2)))
    assert peak == 4
    assert limiter.in_use == 0


async def test_the_gate_holds_every_request_back() -> None:
    limiter = MailboxLimiter(4)
    started = time.monotonic()
    limiter.hold_off(0.2)
    limiter.hold_off(0.05)  # never shortens the wait
    async with limiter.slots(1):
        assert time.monotonic() - started >= 0.2

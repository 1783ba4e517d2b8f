"""One mailbox's requests, folded into JSON batches and sent one batch at a time.

The worker runs up to `concurrency_per_calendar` operations of a calendar at
once; each becomes a request queued here. A runner per mailbox waits a few
milliseconds for company, sends up to 20 queued requests as one `$batch` (a
single one as itself), and hands every item its own answer. Graph runs at most
4 items of a batch against the mailbox at a time, so one batch of 20 keeps the
mailbox's 4 request slots busy on its own; sending one batch at a time also
means a new request never leaves while an earlier one may be learning of a
429 — nothing reaches the mailbox before a Retry-After is over.

Throttled items (429/503/504, whether the batch or the item) are queued again
and sent once the mailbox's gate opens: after their Retry-After, else after an
exponential backoff. A batch whose items were throttled "fails with a status
code of 424" as a whole (Graph's throttling guidance): whatever the outer
status, the items in the body are read; an outer 424/429/503/504 without them
is a throttling of every item. A 401 drops the token and retries once with a new one. A
request without an answer (connection dropped, timeout) is sent again a few
times; one that never left (no connection to be had: the shared pool stayed
full, or connecting failed) is sent again on a longer count of its own, since
it says nothing of the mailbox. Repeats are safe: creates carry a
transactionId and updates and deletes an If-Match, so a repeat cannot do the
work twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.backoff import backoff_seconds
from connectors.errors import FailureScope, RemoteError, TransientError
from connectors.instrumentation import observer
from connectors.m365.auth import TokenSource
from connectors.m365.http import (
    THROTTLED,
    GraphHttp,
    GraphRequest,
    GraphResponse,
    NotSent,
    TransportFailure,
)
from connectors.m365.limiter import MailboxLimiter
from connectors.m365.settings import KIND

log = logging.getLogger("syncd.connectors.m365")
_RESENDS_WITHOUT_ANSWER = 3
# A request that never left (no connection to be had) is no sign the mailbox fails:
# it is tried longer, on its own count, before its calendar hears of it.
_RESENDS_WITHOUT_CONNECTION = 10
# 424: a batch failed as a whole for throttled items (syncd sends no dependsOn, so
# no item of its own can fail for a dependency)
_RETRIED = THROTTLED | {424}


@dataclass(frozen=True)
class BatchOptions:
    batch_size: int = 20
    linger_seconds: float = 0.005
    throttle_retries: int = 10
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 60.0


@dataclass(eq=False)
class _Pending:
    request: GraphRequest
    answer: asyncio.Future[GraphResponse]
    throttled: int = 0
    unanswered: int = 0
    unsent: int = 0
    reauthorized: bool = False


@dataclass(eq=False)
class _Outcome:
    """What one flush decided: requests to send again, and whether the token was refused."""

    again: list[_Pending] = field(default_factory=list)
    token_refused: bool = False


class Batcher:
    """The request queue of one mailbox; shared by every calendar of that mailbox."""

    def __init__(
        self, http: GraphHttp, tokens: TokenSource, limiter: MailboxLimiter, options: BatchOptions
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._limiter = limiter
        self._options = options
        self._queue: deque[_Pending] = deque()
        self._in_flight: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def send(self, request: GraphRequest) -> GraphResponse:
        """Graph's answer to `request`, whatever its status; raises only if none came."""
        pending = _Pending(request, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._arrived.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await pending.answer

    async def aclose(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        closed = TransientError("connector closed", scope=FailureScope.CALENDAR)
        for pending in self._in_flight:
            _settle_error(pending, closed)
        self._fail_queued(closed)

    async def _run(self) -> None:
        while self._queue:
            await self._linger()
            self._in_flight = batch = self._take()
            if not batch:
                continue
            try:
                await self._flush(batch)
            except Exception as error:  # a bug: tell the callers rather than leave them waiting
                log.exception("Graph batch failed unexpectedly")
                for pending in batch:
                    _settle_error(pending, error)
            self._in_flight = []

    def _fail_queued(self, error: Exception) -> None:
        while self._queue:
            pending = self._queue.popleft()
            if not pending.answer.done():
                pending.answer.set_exception(error)

    async def _linger(self) -> None:
        """Give the worker's other concurrent calls a moment to join the batch."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.linger_seconds
        while len(self._queue) < self._options.batch_size:
            left = deadline - loop.time()
            if left <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._queue and len(batch) < self._options.batch_size:
            pending = self._queue.popleft()
            if not pending.answer.done():  # its caller gave up (cancelled)
                batch.append(pending)
        return batch

    async def _flush(self, batch: list[_Pending]) -> None:
        async with self._limiter.slots(len(batch)):
            try:
                token = await self._tokens.token()
                answers = await self._exchange(batch, token)
            except NotSent as failure:
                outcome = self._unsent(batch, failure)
            except TransportFailure as failure:
                outcome = self._unanswered(batch, failure)
            except RemoteError as error:
                outcome = _Outcome()
                for pending in batch:
                    _settle_error(pending, error)
            else:
                outcome = self._settle_all(batch, answers)
                if outcome.token_refused:
                    await self._tokens.reject(token)
        self._queue.extendleft(reversed(outcome.again))

    async def _exchange(
        self, batch: list[_Pending], token: str
    ) -> Sequence[GraphResponse | None]:
        if len(batch) == 1:
            observer(KIND).request_sent("single")
            return [await self._http.exchange(batch[0].request, token)]
        observer(KIND).request_sent("batch")
        envelope = GraphRequest("POST", "/$batch", body=_batch_body(batch))
        response = await self._http.exchange(envelope, token)
        if response.status == 200 or _has_items(response.body):
            return _batch_answers(response.body, len(batch))
        return [response] * len(batch)  # the batch as a whole was refused or throttled

    def _settle_all(
        self, batch: list[_Pending], answers: Sequence[GraphResponse | None]
    ) -> _Outcome:
        outcome = _Outcome()
        for pending, answer in zip(batch, answers, strict=True):
            if answer is None:
                outcome.again += self._unanswered([pending], None).again
            elif answer.status in _RETRIED:
                outcome.again += self._throttled(pending, answer)
            elif answer.status == 401 and not pending.reauthorized:
                pending.reauthorized = outcome.token_refused = True
                outcome.again.append(pending)
            elif not pending.answer.done():
                pending.answer.set_result(answer)
        return outcome

    def _throttled(self, pending: _Pending, answer: GraphResponse) -> list[_Pending]:
        observer(KIND).throttled(answer.status)
        pending.throttled += 1
        wait = answer.retry_after
        if wait is None:
            wait = self._backoff(pending.throttled)
        self._limiter.hold_off(wait)
        if pending.throttled > self._options.throttle_retries:
            if not pending.answer.done():
                pending.answer.set_result(answer)  # the calendar makes it a TransientError
            return []
        return [pending]

    def _unanswered(self, batch: list[_Pending], failure: Exception | None) -> _Outcome:
        outcome = _Outcome()
        for pending in batch:
            pending.unanswered += 1
            if pending.unanswered > _RESENDS_WITHOUT_ANSWER:
                message = str(failure) if failure else "Graph left a batch item unanswered"
                _settle_error(pending, TransientError(message, scope=FailureScope.CALENDAR))
            else:
                outcome.again.append(pending)
        self._limiter.hold_off(self._backoff(max(p.unanswered for p in batch)))
        return outcome

    def _unsent(self, batch: list[_Pending], failure: NotSent) -> _Outcome:
        observer(KIND).request_not_sent()
        outcome = _Outcome()
        for pending in batch:
            pending.unsent += 1
            if pending.unsent > _RESENDS_WITHOUT_CONNECTION:
                _settle_error(pending, TransientError(str(failure), scope=FailureScope.CALENDAR))
            else:
                outcome.again.append(pending)
        self._limiter.hold_off(self._backoff(max(p.unsent for p in batch)))
        return outcome

    def _backoff(self, attempt: int) -> float:
        options = self._options
        return backoff_seconds(attempt, options.retry_base_seconds, options.retry_max_seconds)


def _settle_error(pending: _Pending, error: Exception) -> None:
    if not pending.answer.done():
        pending.answer.set_exception(error)


def _batch_body(batch: list[_Pending]) -> dict[str, Any]:
    return {"requests": [_batch_item(str(i), p.request) for i, p in enumerate(batch)]}


def _batch_item(item_id: str, request: GraphRequest) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "method": request.method, "url": request.url}
    headers = dict(request.headers)
    if request.body is not None:
        item["body"] = request.body
        headers["Content-Type"] = "application/json"
    if headers:
        item["headers"] = headers
    return item


def _batch_answers(body: Any, count: int) -> list[GraphResponse | None]:
    """Each item's answer in request order (Graph answers in any order); None if missing."""
    answers: list[GraphResponse | None] = [None] * count
    responses = body.get("responses") if isinstance(body, dict) else None
    for item in responses if isinstance(responses, list) else []:
        index = _item_index(item, count)
        if index is not None:
            headers = item.get("headers")
            items = headers.items() if isinstance(headers, dict) else ()
            lowered = {str(k).lower(): str(v) for k, v in items}
            answers[index] = GraphResponse(int(item["status"]), lowered, item.get("body"))
    return answers


def _has_items(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("responses"), list)


def _item_index(item: Any, count: int) -> int | None:
    if not isinstance(item, dict) or not isinstance(item.get("status"), int):
        return None
    item_id = item.get("id")
    if isinstance(item_id, str) and item_id.isdigit() and int(item_id) < count:
        return int(item_id)
    return None

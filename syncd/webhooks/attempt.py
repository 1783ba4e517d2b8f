"""One POST of one delivery, and what its answer settles.

    2xx                       delivered
    408, 429, 5xx             try again, never sooner than Retry-After
    no answer                 try again (refused, reset, timed out: one error for all, so the
                              deliveries list tells nothing of the network behind the URL)
    internal destination      failed: see destinations.py and webhooks.allow_destinations
    410 Gone                  failed, and the subscription is disabled (Standard Webhooks)
    3xx                       failed: redirects are not followed; the URL needs updating
    any other 4xx             failed: the endpoint refuses this event for good

"Try again" lasts for the retry period counted from when the event was queued
(or redelivered); a failure after that is final.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx

from connectors.retry_after import retry_after_seconds
from syncd.retry_policy import RetryPolicy
from syncd.webhooks.destinations import DestinationRefused
from syncd.webhooks.models import DeliveryState
from syncd.webhooks.queue import Outcome, Outgoing
from syncd.webhooks.signing import signed_headers

MAX_RESPONSE_BYTES = 64 * 1024  # read so the connection can be reused; no more
RETRYABLE_STATUSES = frozenset({408, 429})
NO_ANSWER = "no answer (connection refused, failed or timed out)"


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"
    GONE = "gone"


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    status: int | None
    error: str | None
    retry_after: float | None = None


@dataclass(frozen=True)
class DeliveryPolicy:
    retry_period: timedelta
    backoff: RetryPolicy

    @classmethod
    def of(cls, hours: float, base_seconds: float, max_seconds: float) -> DeliveryPolicy:
        # attempts are bounded by the retry period, not by their number
        backoff = RetryPolicy(sys.maxsize, base_seconds, max_seconds)
        return cls(timedelta(hours=hours), backoff)


def request_headers(outgoing: Outgoing, timestamp: int) -> dict[str, str]:
    """The headers of `outgoing`'s POST for an attempt at `timestamp` (Unix seconds)."""
    headers = signed_headers(
        outgoing.signing_secrets, outgoing.message_id, timestamp, outgoing.body
    )
    headers["content-type"] = "application/json"
    return headers


async def post(client: httpx.AsyncClient, outgoing: Outgoing, timestamp: int) -> Answer:
    """Send `outgoing` signed for an attempt at `timestamp` (Unix seconds)."""
    headers = request_headers(outgoing, timestamp)
    try:
        async with client.stream(
            "POST", outgoing.url, content=outgoing.body, headers=headers
        ) as response:
            await _drain(response)
            return judge(response.status_code, response.headers.get("retry-after"))
    except httpx.HTTPError:
        return Answer(Verdict.RETRY, None, NO_ANSWER)
    except httpx.InvalidURL:
        return Answer(Verdict.REFUSED, None, "the subscription's URL is not valid")
    except DestinationRefused as error:
        return Answer(Verdict.REFUSED, None, str(error))


async def _drain(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > MAX_RESPONSE_BYTES:
            return


def judge(status: int, retry_after: str | None = None) -> Answer:
    if 200 <= status < 300:
        return Answer(Verdict.DELIVERED, status, None)
    error = f"HTTP {status}"
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Answer(Verdict.RETRY, status, error, retry_after_seconds(retry_after))
    if status == 410:
        return Answer(Verdict.GONE, status, f"{error}: the endpoint asked for no more events")
    if 300 <= status < 400:
        return Answer(Verdict.REFUSED, status, f"{error}: redirects are not followed")
    return Answer(Verdict.REFUSED, status, error)


def settle(outgoing: Outgoing, answer: Answer, now: datetime, policy: DeliveryPolicy) -> Outcome:
    """The outcome to record for `answer` to an attempt made at `now`."""
    attempts = outgoing.attempts + 1
    state, next_attempt_at, error = _next_step(outgoing, answer, now, policy, attempts)
    return Outcome(
        delivery_id=outgoing.delivery_id,
        subscription_id=outgoing.subscription_id,
        state=state,
        attempts=attempts,
        attempted_at=now,
        next_attempt_at=next_attempt_at,
        status=answer.status,
        error=error,
        disables_subscription=answer.verdict == Verdict.GONE,
    )


def _next_step(
    outgoing: Outgoing, answer: Answer, now: datetime, policy: DeliveryPolicy, attempts: int
) -> tuple[DeliveryState, datetime, str | None]:
    if answer.verdict == Verdict.DELIVERED:
        return DeliveryState.DELIVERED, now, None
    if answer.verdict != Verdict.RETRY:
        return DeliveryState.FAILED, now, answer.error
    retry_at = now + timedelta(seconds=policy.backoff.delay(attempts, answer.retry_after))
    if retry_at > outgoing.queued_at + policy.retry_period:
        return DeliveryState.FAILED, now, f"{answer.error}; retry period over"
    return DeliveryState.PENDING, retry_at, answer.error

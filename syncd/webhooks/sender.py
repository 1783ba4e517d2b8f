"""The webhook sender: a background service of every worker process (see syncd.serve).

It claims due lane heads (syncd/webhooks/queue.py), POSTs each signed and
records the outcome. Per subscription, `concurrency_per_subscription` (c)
requests are in flight and up to 3c more are claimed and waiting, so the next
POST never waits for a claim; when fewer than 2c are left, that subscription
alone is asked for more (its lanes may have moved on). Every subscription is
asked after a commit that queued events (the Waker) and at each sweep, the
safety net for wake-ups lost to other processes or crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from functools import partial

import httpx

from syncd.background import BackgroundLoop, finish_within, seconds_until
from syncd.metrics import WEBHOOK_ATTEMPTS
from syncd.runtime import Runtime
from syncd.store.db import is_sqlite
from syncd.store.dbthread import DatabaseThreads
from syncd.store.group_commit import Recorder
from syncd.timeutil import utcnow
from syncd.webhooks import attempt, queue
from syncd.webhooks.destinations import DestinationPolicy
from syncd.webhooks.models import DeliveryState
from syncd.webhooks.queue import Claim, Outcome, Outgoing
from syncd.webhooks.transport import CheckedTransport

log = logging.getLogger("syncd.webhooks")
PRUNE_EVERY_SECONDS = 3600.0
# Per subscription up to ROOM x concurrency deliveries are claimed, refilled once fewer
# than REFILL_BELOW x concurrency are left. A claimed delivery waits behind at most
# ROOM - 1 rounds of requests, then takes one: its lease outlasts ROOM timeouts.
ROOM = 4
REFILL_BELOW = 2
LEASE_MARGIN_SECONDS = 60.0
LINGER_SECONDS = 0.05  # what a booking's next event may wait, under load, for fewer commits


class WebhookSender(BackgroundLoop):
    name = "webhook sender"
    log = log

    def __init__(self, runtime: Runtime, *, owner: str | None = None) -> None:
        super().__init__(runtime.waker, owner)
        self.runtime = runtime
        self.settings = runtime.settings.webhooks
        self.db = DatabaseThreads(runtime.sessions)
        self.policy = attempt.DeliveryPolicy.of(
            self.settings.retry_period_hours,
            self.settings.backoff_base_seconds,
            self.settings.backoff_max_seconds,
        )
        self._nudge = asyncio.Event()  # news for the subscriptions in _refill
        self.wake_events = (self.wake, self._nudge)  # self.wake: news for everyone
        self._everyone = True  # whether the next round asks every subscription
        self._capped = False
        self._client: httpx.AsyncClient | None = None
        self._refill: set[int] = set()
        self._retries: list[datetime] = []  # a heap: when our failed deliveries come due
        self._claimed: dict[int, asyncio.Task[None]] = {}
        self._per_subscription: Counter[int] = Counter()
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._outcomes = Recorder(self.db, linger=self._linger)
        self._next_prune = 0.0

    async def start(self) -> None:
        self._client = self._new_client()
        if is_sqlite(self.runtime.engine):
            # One process owns an SQLite database: leases left by a killed run are stale.
            await self.db.run(queue.release_leases)

    def _new_client(self) -> httpx.AsyncClient:
        most = self.settings.max_in_flight
        limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
        return httpx.AsyncClient(
            transport=CheckedTransport(
                DestinationPolicy.of(self.settings.allow_destinations), limits),
            timeout=self.settings.timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": "syncd-webhooks"},
        )

    async def round(self, stop: asyncio.Event) -> float:
        """Claim what is due (of every subscription, or of those to refill); how long to
        sleep then."""
        assert self._client is not None  # opened by start
        everyone, self._everyone = self._everyone, False
        only = None if everyone else frozenset(self._refill)
        self._refill = set()
        asked_at = utcnow()
        self._capped = await self._claim(self._client, only)
        if everyone:
            self._forget_retries_due_by(asked_at)
            await self._prune_now_and_then()
        return await self._sleep_seconds()

    def after_outage(self) -> None:
        self._everyone = True  # a database outage: look at everyone again

    def after_sleep(self, *, woken: bool) -> None:
        self._everyone = self._capped or not woken or self.wake.is_set()

    async def _claim(self, client: httpx.AsyncClient, only: frozenset[int] | None) -> bool:
        """Claim and start what is due; True if max_in_flight cut the claim short."""
        free = self.settings.max_in_flight - len(self._claimed)
        if free <= 0 or only == frozenset():
            return free <= 0
        now = utcnow()
        lease = ROOM * self.settings.timeout_seconds + LEASE_MARGIN_SECONDS
        room_each = ROOM * self.settings.concurrency_per_subscription
        claim = Claim(
            owner=self.owner,
            now=now,
            lease_until=now + timedelta(seconds=lease),
            total=free,
            room={s: room_each - n for s, n in self._per_subscription.items()},
            fresh_room=room_each,
            busy=frozenset(self._claimed),
            only=only,
        )
        batch = await self.db.run(queue.claim_due, claim)
        for outgoing in batch:
            self._start(client, outgoing)
        return len(batch) >= free

    def _start(self, client: httpx.AsyncClient, outgoing: Outgoing) -> None:
        self._per_subscription[outgoing.subscription_id] += 1
        task = asyncio.create_task(self._deliver(client, outgoing))
        self._claimed[outgoing.delivery_id] = task
        task.add_done_callback(partial(self._finished, outgoing))

    def _slot(self, subscription_id: int) -> asyncio.Semaphore:
        limit = self.settings.concurrency_per_subscription
        return self._slots.setdefault(subscription_id, asyncio.Semaphore(limit))

    async def _deliver(self, client: httpx.AsyncClient, outgoing: Outgoing) -> None:
        async with self._slot(outgoing.subscription_id):
            if self.stopping.is_set():
                return  # not sent: its lease is released on the way out
            answer = await attempt.post(client, outgoing, int(time.time()))
        outcome = attempt.settle(outgoing, answer, utcnow(), self.policy)
        await self._outcomes.record_item(queue.record_outcomes, outcome)
        if outcome.state == DeliveryState.PENDING:
            heapq.heappush(self._retries, outcome.next_attempt_at)
        _report(outcome)

    def _linger(self, waiting: int) -> float:
        """While other requests are in flight, an outcome waits a few milliseconds for
        theirs (a lone one is committed at once)."""
        return LINGER_SECONDS if len(self._claimed) > waiting else 0.0

    def _finished(self, outgoing: Outgoing, task: asyncio.Task[None]) -> None:
        self._claimed.pop(outgoing.delivery_id, None)
        subscription_id = outgoing.subscription_id
        self._per_subscription[subscription_id] -= 1
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "webhook delivery %d could not be recorded; it will be sent again",
                outgoing.delivery_id,
                exc_info=task.exception(),
            )
        refill_below = REFILL_BELOW * self.settings.concurrency_per_subscription
        if self._per_subscription[subscription_id] < refill_below:
            self._refill.add(subscription_id)
            self._nudge.set()

    async def _sleep_seconds(self) -> float:
        """Until the sweep, or sooner when a delivery comes due; while requests are in flight
        the only deliveries coming due that this sender knows of are its own retries."""
        sweep = self.settings.sweep_interval_seconds
        if self._claimed:
            due = self._retries[0] if self._retries else None
        else:
            due = await self.db.run(queue.next_due_time, utcnow())
        return seconds_until(due, sweep)

    def _forget_retries_due_by(self, moment: datetime) -> None:
        while self._retries and self._retries[0] <= moment:
            heapq.heappop(self._retries)

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        before = utcnow() - timedelta(days=self.settings.keep_delivered_days)
        await self.db.run(queue.prune_delivered, before)

    async def shutdown(self) -> None:
        """Send nothing new; give requests in flight the timeout, then abandon them."""
        await finish_within(self._claimed.values(), self.settings.timeout_seconds)
        await self._outcomes.finish()
        with contextlib.suppress(Exception):
            await self.db.run(queue.release_leases, self.owner)
        if self._client is not None:
            await self._client.aclose()
        self.db.close()


def _report(outcome: Outcome) -> None:
    if outcome.state == DeliveryState.DELIVERED:
        WEBHOOK_ATTEMPTS.labels("delivered").inc()
        return
    retrying = outcome.state == DeliveryState.PENDING
    WEBHOOK_ATTEMPTS.labels("retry" if retrying else "failed").inc()
    level = logging.WARNING if retrying else logging.ERROR
    what = "will be retried" if retrying else "failed for good"
    log.log(
        level,
        "webhook delivery %d to subscription %d %s: %s",
        outcome.delivery_id,
        outcome.subscription_id,
        what,
        outcome.error,
        extra={"attempt": outcome.attempts},
    )


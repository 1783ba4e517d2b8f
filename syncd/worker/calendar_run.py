"""One pass over a leased calendar: converge its due mirrors within its concurrency limit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from connectors.base import Calendar
from syncd import metrics
from syncd.errors import AuthError, FailureScope, PermanentError, RemoteError, TransientError
from syncd.reconcile.passes import Watcher
from syncd.retry_policy import RetryPolicy
from syncd.store import leases, results, work
from syncd.store.dbthread import DatabaseThreads
from syncd.store.group_commit import Recorder
from syncd.store.leases import Lease
from syncd.store.models import BindingState
from syncd.store.outage import outage_of, outage_or_raise
from syncd.store.session import SyncdSession
from syncd.store.tasks import MirrorTask
from syncd.store.work import BindingTarget, Outcome
from syncd.timeutil import utcnow
from syncd.webhooks.emit import mirror_dead_lettered
from syncd.worker.contents import Contents
from syncd.worker.converge import StaleTaskError, converge
from syncd.worker.due_again import DueAgain
from syncd.worker.health import RecentRequests
from syncd.worker.inflight import InFlight, Underway
from syncd.worker.lease_guard import LeaseGuard, LeaseLapsedError
from syncd.worker.refused import Refusal, record_refusal
from syncd.worker.unwritable import open_unwritable_conflict

log = logging.getLogger("syncd.worker")


@dataclass(frozen=True)
class RunContext:
    """What every calendar pass of one worker shares."""

    db: DatabaseThreads
    recorder: Recorder
    owner: str
    policy: RetryPolicy
    lease_seconds: float
    batch_size: int
    stopping: asyncio.Event
    watcher: Watcher | None = None  # reconcile passes, after the writes (syncd/reconcile)
    contents: Contents = field(default_factory=Contents)  # events found before first writes
    link_days: float = 7.0  # a reconnect link's life, when credentials are refused
    underway: Underway = field(default_factory=Underway)  # the worker's writes, all calendars


@dataclass
class CalendarRun:
    ctx: RunContext
    target: BindingTarget
    calendar: Calendar
    concurrency: int
    connector_kind: str
    outage: RemoteError | None = field(default=None)
    lease_lost: bool = field(default=False)
    # the first claim, made with the lease by the worker (syncd.store.work.start_passes)
    first_claim: list[MirrorTask] | None = field(default=None)
    renewed_at: float = field(default_factory=time.monotonic)  # the lease, on the monotonic clock
    generation: int = 0  # the lease's fencing token, from its acquisition
    leased: bool = field(default=False, init=False)
    healthy: bool = field(default=False, init=False)  # its writes went well: healed on release
    recent: RecentRequests = field(default_factory=RecentRequests, init=False)
    retries: DueAgain = field(default_factory=DueAgain, init=False)  # its own failed writes
    guard: LeaseGuard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = LeaseGuard(self.ctx.lease_seconds, lambda: self.renewed_at)
        # looked up once per pass, not per write
        self._write_seconds = metrics.MIRROR_WRITE_SECONDS.labels(self.connector_kind)
        self._written_ok = metrics.MIRROR_WRITES.labels(self.connector_kind, "ok")

    async def run(self) -> None:
        """Work until the calendar has nothing due, is paused, or the worker stops."""
        binding_id = self.target.binding_id
        heartbeat = asyncio.create_task(self._keep_lease())
        try:
            await self._work_through()
        except Exception as error:
            if outage_of(error) is not None:
                raise  # the database's, not the calendar's: the worker waits for it to return
            # An unforeseen failure must hold the calendar back, not spin on it.
            log.exception("calendar pass failed", extra={"binding_id": binding_id})
            await self._pause(error)
        finally:
            heartbeat.cancel()
            # With the results of other calendars: passes that end together commit once.
            release = leases.Release(binding_id, self.ctx.owner, heal=self.healthy)
            # hurried: the worker's next calendar waits for this one's end
            await self.ctx.recorder.record_item(leases.release_leases, release, hurry=True)

    @property
    def lease(self) -> leases.Lease:
        return leases.Lease(self.ctx.owner, self.generation)

    async def _keep_lease(self) -> None:
        """Renew well before expiry: a pass may outlast one lease period on a slow server."""
        period = self.ctx.lease_seconds / 3
        while True:
            await asyncio.sleep(self.renewed_at + period - time.monotonic())
            if time.monotonic() - self.renewed_at < period:
                continue  # a claim renewed it meanwhile
            try:
                renewed = await self._renew_lease()
            except Exception as error:
                outage_or_raise(error)  # the database is out: try again next period
                await asyncio.sleep(period)
                continue
            if not renewed:
                self._lose_lease()
                return

    def _lose_lease(self, why: str = "lost") -> None:
        self.lease_lost = True  # another worker owns the calendar now, or may: stop
        log.warning("calendar lease %s", why, extra={"binding_id": self.target.binding_id})

    async def _work_through(self) -> None:
        """A pipeline: the next claim is made as soon as a write finishes, while others run,
        or as soon as a failed write comes due again (syncd/worker/due_again.py)."""
        ctx = self.ctx
        writes = InFlight(self.concurrency, ctx.underway, hurry=ctx.recorder.hurry)
        queued = deque[MirrorTask]()
        guard = asyncio.create_task(self.guard.watch())
        try:
            while self._may_go_on():
                written = writes.written
                if not queued or self.retries.due():
                    await self._claim_into(queued, writes)
                if queued:
                    await self._dispatch(queued, writes)
                elif not writes:
                    break
                # With nothing left in flight the pass claims again rather than ending: a
                # $batch answers all its items at once, and a pass per batch cost its calendar
                # a lease, a claim and a release per 20 writes.
                if not self.retries.due():
                    await writes.settle(written, self.retries.seconds_to_next())
            await writes.drain()
        except Exception:
            await writes.wait_for_all()  # a failed pass leaves no write of its own running
            raise
        finally:
            guard.cancel()
        if self.outage is not None:
            await self._pause(self.outage)
        elif not self.lease_lost:
            self.healthy = True
            await self._watch()

    async def _mark_healthy(self) -> None:
        # Before a reconcile pass, so that its failure starts a new streak. Only the
        # lease holder changes a calendar's health: a look spares a write.
        if await self.ctx.db.read(work.needs_healing, self.target.binding_id):
            await self.ctx.db.run(work.mark_binding_healthy, self.target.binding_id)

    async def _watch(self) -> None:
        """The calendar's reconcile pass when one is due, within the same lease and limit."""
        watcher = self.ctx.watcher
        if watcher is None or not self._may_go_on():
            return
        await self._mark_healthy()
        try:
            await watcher.watch(
                self.calendar, self.target.binding_id, self.connector_kind, self.concurrency,
                self.ctx.owner,
            )
        except RemoteError as error:  # the whole calendar failed: pause it as for writes
            await self._pause(error)

    async def _learn_contents(self) -> None:
        try:
            await self.ctx.contents.learn(self.target.binding_id, self.calendar)
        except (AuthError, TransientError) as error:
            self.outage = error

    def _may_go_on(self) -> bool:
        return self.outage is None and not self.lease_lost and not self.ctx.stopping.is_set()

    async def _claim(self, busy: set[int]) -> list[MirrorTask]:
        """Due mirrors not in flight, claimed with the lease taken or renewed in one transaction.

        The first claim of a pass follows the worker's finding work here; later ones
        look first, without a writer's transaction (on SQLite: without the write lock).
        """
        if self.first_claim is not None:
            first, self.first_claim, self.leased = self.first_claim, None, True
            return first
        binding_id = self.target.binding_id
        if self.leased and not await self.ctx.db.read(work.has_due, binding_id, utcnow(), busy):
            return []
        started = time.monotonic()
        claimed = await self.ctx.db.run(
            work.lease_and_claim,
            binding_id,
            self.lease,
            utcnow(),
            lease_seconds=self.ctx.lease_seconds,
            limit=self.ctx.batch_size,
            busy=busy,
        )
        if claimed is None:
            self._lose_lease()
            return []
        self.leased, self.renewed_at = True, max(self.renewed_at, started)
        return claimed

    async def _claim_into(self, queued: deque[MirrorTask], writes: InFlight) -> None:
        """Claim what is due and not yet claimed, ahead of what waits in `queued`: a retry
        that came due has waited its backoff already."""
        busy = writes.ids | {task.mirror_id for task in queued}
        looked_at = time.monotonic()  # before the claim reads the store's clock
        claimed = await self._claim(busy)
        self.retries.claimed({task.mirror_id for task in claimed}, busy, looked_at)
        if claimed:
            # once per process, and only when there is something to write here
            await self._learn_contents()
            queued.extendleft(reversed(claimed))

    async def _dispatch(self, queued: deque[MirrorTask], writes: InFlight) -> None:
        """Start the queued writes as slots free up, until none is left or a retry is due."""
        while queued:
            await writes.take_slot()
            if not self._may_go_on() or self.retries.due():
                writes.give_back_slot()
                return
            task = self.ctx.contents.adopting(self.target.binding_id, queued.popleft())
            writes.start(task.mirror_id, self._attempt(task), partial(self._record, task))

    async def _renew_lease(self) -> bool:
        started = time.monotonic()
        renewed = await self.ctx.db.run(
            leases.renew_lease,
            self.target.binding_id,
            self.lease,
            utcnow(),
            self.ctx.lease_seconds,
        )
        if renewed:
            self.renewed_at = max(self.renewed_at, started)
        return renewed

    async def _attempt(self, task: MirrorTask) -> Outcome | RemoteError | None:
        """The outcome, the error to record, or None: nothing to record (the whole calendar
        failed, or the task went stale: lease lost, booking changed)."""
        if not await self._still_current(task):
            return None  # the lease or the booking moved on while the task waited
        started = time.perf_counter()
        try:
            outcome = await self.guard.bounded(
                converge(self.calendar, task, partial(self._current, task))
            )
        except (StaleTaskError, LeaseLapsedError) as stale:
            if isinstance(stale, LeaseLapsedError):
                self._lose_lease("lapsed: writes abandoned")
            return None
        except (AuthError, TransientError) as error:
            if isinstance(error, TransientError):
                metrics.count_throttle(self.connector_kind, error)
            if self._whole_calendar(error):
                self.outage = self.outage or error
                return None
            return error
        except RemoteError as error:
            return error
        self.recent.succeeded()
        elapsed = time.perf_counter() - started
        self._write_seconds.observe(elapsed)
        return outcome

    def _whole_calendar(self, error: AuthError | TransientError) -> bool:
        """Whether `error` should pause the calendar rather than back off its one event."""
        if isinstance(error, AuthError) or error.scope == FailureScope.CALENDAR:
            return True
        return self.recent.failed()

    async def _still_current(self, task: MirrorTask) -> bool:
        """Checked in the store only when the lease may have lapsed since it was last renewed
        (a worker paused past it): otherwise nobody else can have taken the calendar. The
        check renews the lease: one expired but not yet taken must not be written under."""
        if time.monotonic() - self.renewed_at < self.ctx.lease_seconds / 3:
            return not self.lease_lost
        started = time.monotonic()
        renewal = await self.ctx.db.run(
            work.renew_for_task, self.target.binding_id, self.lease, task, utcnow(),
            lease_seconds=self.ctx.lease_seconds,
        )
        if not renewal.renewed:
            self._lose_lease()
            return False
        self.renewed_at = max(self.renewed_at, started)
        return renewal.current

    async def _current(self, task: MirrorTask) -> bool:
        binding_id = self.target.binding_id
        return await self.ctx.db.read(work.task_current, binding_id, self.lease, task)

    async def _record(self, task: MirrorTask, result: Outcome | RemoteError | None) -> None:
        if isinstance(result, Outcome):
            success = results.Success(task.mirror_id, result, utcnow(), self.lease)
            await self.ctx.recorder.record_item(results.record_successes, success)
            self._written_ok.inc()
        elif result is not None:
            await self._failed(task, result)

    async def _failed(self, task: MirrorTask, error: RemoteError) -> None:
        attempt = task.attempts + 1
        live = task.event is not None
        # A live booking is never given up after one refusal: servers refuse for
        # reasons that pass (a UID still held by a calendar it is moving from).
        refused = isinstance(error, PermanentError) and not live
        dead = refused or self.ctx.policy.gives_up_after(attempt)
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        delay = self.ctx.policy.delay(attempt, retry_after)
        # the store's clock first: the pass never finds the retry due before the store does
        retry_at = utcnow() + timedelta(seconds=delay)
        due_at = time.monotonic() + delay
        message = f"{type(error).__name__}: {error}"
        await self.ctx.recorder.record(
            partial(_record_failure, task, message, retry_at, dead=dead, live=live,
                    lease=self.lease)
        )
        if not dead:
            self.retries.add(task.mirror_id, due_at)
        metrics.MIRROR_WRITES.labels(self.connector_kind, "dead" if dead else "retry").inc()
        extra = {
            "mirror_id": task.mirror_id,
            "booking_id": task.booking_id,
            "binding_id": self.target.binding_id,
            "attempt": attempt,
        }
        if dead:
            metrics.DEAD_LETTERS.labels(self.connector_kind).inc()
            log.error("mirror dead-lettered: %s", message, extra=extra)
        else:
            log.warning("mirror write failed, will retry: %s", message, extra=extra)

    async def _pause(self, error: Exception) -> None:
        binding_id = self.target.binding_id
        self.healthy = False
        streak = await self.ctx.db.read(work.failure_streak, binding_id) + 1
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        delay = self.ctx.policy.delay(streak, retry_after)
        if isinstance(error, AuthError):
            delay = max(delay, self.ctx.policy.max_seconds)  # credentials rarely fix themselves
        message = f"{type(error).__name__}: {error}"
        until = utcnow() + timedelta(seconds=delay)
        state = BindingState.AUTH_ERROR if isinstance(error, AuthError) else BindingState.PAUSED
        if state == BindingState.AUTH_ERROR:
            refusal = Refusal(binding_id, until, message, self.connector_kind, self.ctx.link_days)
            await self.ctx.db.run(record_refusal, refusal)
        else:
            await self.ctx.db.run(work.pause_binding, binding_id, until, message, state)
        metrics.CALENDAR_PAUSES.labels(self.connector_kind).inc()
        if state == BindingState.AUTH_ERROR:
            metrics.BINDING_AUTH_ERRORS.labels(self.connector_kind).inc()
        log.log(
            logging.ERROR if state == BindingState.AUTH_ERROR else logging.WARNING,
            "calendar paused (%s) for %.1fs: %s",
            state,
            delay,
            message,
            extra={"binding_id": binding_id, "failures": streak},
        )


def _record_failure(
    task: MirrorTask, message: str, retry_at: datetime, session: SyncdSession, *, dead: bool,
    live: bool, lease: Lease | None,
) -> None:
    dead_now = work.record_failure(session, task, message, retry_at, dead=dead, lease=lease,
                                   report_dead=mirror_dead_lettered)
    if dead_now and live:
        open_unwritable_conflict(session, task, utcnow())

"""One reconcile pass over a leased calendar: ask its change feed, look up what vanished,
settle everything in one transaction.

Run by the worker inside a calendar's lease, after its writes (syncd/worker/
calendar_run.py), so it shares the calendar's lease and concurrency limit.
Failures of the whole calendar (refused credentials, a server that is down or
throttling) are raised for the worker to pause the calendar; any other failure
is recorded on the calendar's watch state and retried with backoff, keeping
the cursor, without holding back the calendar's writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from connectors.base import Calendar
from syncd import metrics
from syncd.config.reconcile import ReconcileSettings
from syncd.errors import AuthError, FailureScope, TransientError
from syncd.reconcile import state
from syncd.reconcile.apply import Lookups, PassSummary, apply_pass, lookups_needed
from syncd.reconcile.recognise import CalendarSide
from syncd.reconcile.valve import check_disappearance
from syncd.retry_policy import RetryPolicy
from syncd.store.dbthread import DatabaseThreads
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.reconcile")
# a calendar's step before its pass: (calendar, binding id, connector kind); see
# syncd/reconcile/push/upkeep.py
Upkeep = Callable[[Calendar, int, str], Awaitable[None]]


async def reconcile_pass(
    db: DatabaseThreads,
    calendar: Calendar,
    binding_id: int,
    settings: ReconcileSettings,
    concurrency: int = 4,
    *,
    owner: str | None = None,
) -> PassSummary | None:
    """Make the calendar's pass if one is due; None when none was.

    With `owner`, the pass stores nothing (`LeaseLost`) unless that worker still
    holds the calendar's lease when it commits.
    """
    plan = await db.run(state.plan_pass, binding_id, utcnow(), settings)
    if plan is None:
        return None
    if plan.listing_reason is not None:
        log.info("listing the calendar completely: %s", plan.listing_reason,
                 extra={"binding_id": binding_id})
    answer = await calendar.changes(plan.cursor, plan.window, plan.known)
    share = settings.missing_share_to_verify
    mass = await check_disappearance(db, calendar, binding_id, answer, share)
    lookups: Lookups = {}
    if not answer.exact_removals:
        needed = await db.run(lookups_needed, binding_id, answer, utcnow())
        lookups = await _look_up(calendar, needed, concurrency)
    return await db.run(
        apply_pass, plan, answer, lookups, now=utcnow(), settings=settings, owner=owner,
        grouped=mass,
    )


async def _look_up(calendar: Calendar, needed: list[tuple[str, str]], concurrency: int) -> Lookups:
    """Where each vanished mirrored event is now: elsewhere (moved), here, or nowhere."""
    slots = asyncio.Semaphore(concurrency)

    async def one(uid: str) -> CalendarSide | None:
        async with slots:
            found = await calendar.find_by_booking(uid)
        return None if found is None else CalendarSide.of(found)

    results = await asyncio.gather(*(one(uid) for _, uid in needed))
    return {remote_id: found for (remote_id, _), found in zip(needed, results, strict=True)}


class Watcher:
    """Runs due passes for a worker: measures them and applies the failure policy."""

    def __init__(
        self,
        db: DatabaseThreads,
        settings: ReconcileSettings,
        policy: RetryPolicy,
        upkeep: Upkeep | None = None,
    ):
        self.db, self.settings, self.policy = db, settings, policy
        self.upkeep = upkeep  # run before each pass (push subscriptions); never raises

    async def watch(
        self,
        calendar: Calendar,
        binding_id: int,
        connector_kind: str,
        concurrency: int,
        owner: str | None = None,
    ) -> None:
        """One due pass, if any; raises only what should pause the whole calendar."""
        if self.upkeep is not None:
            await self.upkeep(calendar, binding_id, connector_kind)
        started = time.perf_counter()
        try:
            summary = await reconcile_pass(
                self.db, calendar, binding_id, self.settings, concurrency, owner=owner
            )
        except state.LeaseLost:
            log.info("reconcile pass dropped: lease lost", extra={"binding_id": binding_id})
            return
        except NotImplementedError as error:
            await self.db.run(state.record_unwatchable, binding_id, str(error))
            metrics.RECONCILE_PASSES.labels(connector_kind, "unwatchable").inc()
            return
        except (AuthError, TransientError) as error:
            if isinstance(error, AuthError) or error.scope == FailureScope.CALENDAR:
                raise
            await self._failed(binding_id, connector_kind, error)
            return
        except Exception as error:  # a bad object or a bug must not stop the calendar's writes
            await self._failed(binding_id, connector_kind, error)
            return
        if summary is not None:
            self._done(binding_id, connector_kind, summary, time.perf_counter() - started)

    async def _failed(self, binding_id: int, connector_kind: str, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        failures = await self.db.run(state.failure_count, binding_id) + 1
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        retry_at = utcnow() + timedelta(seconds=self.policy.delay(failures, retry_after))
        await self.db.run(state.record_failure, binding_id, message, retry_at)
        metrics.RECONCILE_PASSES.labels(connector_kind, "failed").inc()
        # an unexpected error's traceback once, not again on every retry of a backoff
        unexpected = not isinstance(error, (TransientError, AuthError))
        log.warning("reconcile pass failed: %s", message,
                    extra={"binding_id": binding_id, "failures": failures},
                    exc_info=unexpected and failures == 1)

    @staticmethod
    def _done(binding_id: int, kind: str, summary: PassSummary, seconds: float) -> None:
        outcome = "resync" if summary.reset_reason else "ok"
        metrics.RECONCILE_PASSES.labels(kind, outcome).inc()
        metrics.RECONCILE_PASS_SECONDS.labels(kind).observe(seconds)
        metrics.RECONCILE_CHANGES.labels(kind).inc(summary.changed + summary.removed)
        metrics.RECONCILE_UNREADABLE.labels(kind).inc(summary.set_apart)
        if summary.reset_reason:
            log.warning("sync state refused, listed the calendar again: %s", summary.reset_reason,
                        extra={"binding_id": binding_id})
        log.debug(
            "reconcile pass: %s, %d changed, %d removed, %d put back, %d moved, %d opened, "
            "%d cleared", outcome, summary.changed, summary.removed, summary.rewritten,
            summary.rescheduled, summary.opened, summary.cleared, extra={"binding_id": binding_id},
        )

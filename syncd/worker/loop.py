"""The worker: dispatch due calendars, sleep until woken, stop gracefully.

Woken by the `Waker` right after a commit that dirtied mirrors, by a calendar
pass finishing, or by the periodic sweep (the safety net for lost wake-ups).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import OperationalError

from connectors.base import Connector
from syncd.background import BackgroundLoop, finish_within, seconds_until
from syncd.connector_registry import ConnectorRegistry
from syncd.ops.health import Heartbeat
from syncd.reconcile.passes import Watcher
from syncd.reconcile.push.upkeep import PushUpkeep
from syncd.reconcile.state import PASSES
from syncd.retry_policy import RetryPolicy
from syncd.runtime import Runtime
from syncd.store import leases, work
from syncd.store.accounts import account_id_of
from syncd.store.dbthread import DatabaseThreads
from syncd.store.group_commit import Recorder
from syncd.store.outage import outage_of
from syncd.store.work import BindingTarget
from syncd.timeutil import utcnow
from syncd.worker.calendar_run import CalendarRun, RunContext
from syncd.worker.inflight import Underway, record_linger

log = logging.getLogger("syncd.worker")


class Worker(BackgroundLoop):
    name = "worker"
    log = log

    def __init__(
        self,
        runtime: Runtime,
        connectors: Mapping[str, Connector],
        *,
        owner: str | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        super().__init__(runtime.waker, owner)
        self.runtime = runtime
        self.heartbeat = heartbeat or Heartbeat()  # read by /readyz
        self.settings = runtime.settings.worker
        self.connectors = connectors
        self.db = DatabaseThreads(runtime.sessions)
        self._runs: dict[int, asyncio.Task[None]] = {}
        underway = Underway()
        self._ctx = RunContext(
            db=self.db,
            recorder=Recorder(self.db, linger=partial(record_linger, underway)),
            underway=underway,
            owner=self.owner,
            stopping=self.stopping,
            policy=RetryPolicy(
                self.settings.max_attempts,
                self.settings.backoff_base_seconds,
                self.settings.backoff_max_seconds,
            ),
            lease_seconds=self.settings.lease_seconds,
            batch_size=self.settings.batch_size,
            link_days=runtime.settings.connect.link_days,
        )
        self._watch = runtime.settings.reconcile.enabled
        self._passes = PASSES if self._watch else None
        if self._watch:
            reconcile = runtime.settings.reconcile
            upkeep = None
            if reconcile.push.public_url is not None:  # services' change notifications
                upkeep = PushUpkeep(self.db, reconcile.push)
            watcher = Watcher(self.db, reconcile, self._ctx.policy, upkeep)
            self._ctx = dataclasses.replace(self._ctx, watcher=watcher)

    def before_round(self) -> None:
        self.heartbeat.beat()

    async def round(self, stop: asyncio.Event) -> float:
        await self._dispatch()
        return await self._sleep_seconds()

    async def _dispatch(self) -> None:
        free = self.settings.calendars_in_parallel - len(self._runs)
        if free <= 0:
            return
        targets = await self.db.read(
            work.due_bindings, self.owner, utcnow(), free + len(self._runs), passes=self._passes
        )
        await self._key_leases()  # after: every calendar found has its key when leased
        targets = [t for t in targets if t.binding_id not in self._runs][:free]
        await self._refresh_for([t.connector for t in targets])
        for target in [t for t in targets if t.connector not in self.connectors]:
            self._track(target, self._unconfigured(target))
        await self._start([t for t in targets if t.connector in self.connectors])

    async def _refresh_for(self, names: list[str]) -> None:
        """An account stored a moment ago (its binding made in the same breath) may not be
        in the registry's snapshot yet: look again before calling it unconfigured."""
        if isinstance(self.connectors, ConnectorRegistry) and any(
            account_id_of(name) is not None and name not in self.connectors for name in names
        ):
            await self.connectors.refresh()

    async def _key_leases(self) -> None:
        """Lease keys for new bindings, before this worker leases them (every worker does
        so), so that a mailbox's calendars are never leased apart."""
        found = await self.db.read(leases.unkeyed)
        if found:
            keys = {
                binding_id: f"{name}:{self.connectors[name].lease_key(calendar_id)}"
                for binding_id, name, calendar_id in found
                if name in self.connectors
            }
            await self.db.run(leases.assign_lease_keys, keys)

    async def _start(self, targets: list[BindingTarget]) -> None:
        """Lease the calendars and claim their first writes in one transaction, then run them."""
        if not targets:
            return
        renewed_at = time.monotonic()
        try:
            claims = await self.db.run(
                work.start_passes,
                [t.binding_id for t in targets],
                self.owner,
                utcnow(),
                lease_seconds=self.settings.lease_seconds,
                limit=self._first_claim_size(targets),
            )
        except OperationalError as error:  # busy, or a deadlock on PostgreSQL: next round
            log.warning("could not lease calendars: %s", type(error.orig).__name__)
            return
        for target in [t for t in targets if t.binding_id in claims]:  # others: held elsewhere
            connector = self.connectors[target.connector]
            run = CalendarRun(
                self._ctx,
                target,
                connector.calendar(target.calendar_id),
                connector.concurrency_per_calendar,
                self._kind(target.connector),
                first_claim=claims[target.binding_id].tasks,
                generation=claims[target.binding_id].generation,
                renewed_at=renewed_at,
            )
            self._track(target, run.run())

    def _first_claim_size(self, targets: list[BindingTarget]) -> int:
        # Enough to fill the calendars' slots; a run claims the rest itself, while writing.
        slots = max(self.connectors[t.connector].concurrency_per_calendar for t in targets)
        return min(self.settings.batch_size, slots)

    def _track(self, target: BindingTarget, run: Coroutine[Any, Any, None]) -> None:
        self._runs[target.binding_id] = asyncio.create_task(run)
        self._runs[target.binding_id].add_done_callback(
            lambda task: self._finished(target.binding_id, task)
        )

    def _kind(self, connector_name: str) -> str:
        return self.runtime.connectors.kind(connector_name)

    async def _unconfigured(self, target: BindingTarget) -> None:
        until = utcnow() + timedelta(seconds=self.settings.backoff_max_seconds)
        message = f"connector {target.connector!r} is not configured"
        await self.db.run(work.pause_binding, target.binding_id, until, message)
        log.error(message, extra={"binding_id": target.binding_id})

    def _finished(self, binding_id: int, task: asyncio.Task[None]) -> None:
        self._runs.pop(binding_id, None)
        error = None if task.cancelled() else task.exception()
        outage = None if error is None else outage_of(error)
        if outage is not None:  # the lease stays ours: the pass resumes when the database is back
            log.warning("calendar pass stopped: %s", outage, extra={"binding_id": binding_id})
        elif error is not None:
            log.error("calendar pass failed", exc_info=error, extra={"binding_id": binding_id})
        self.wake.set()

    async def _sleep_seconds(self) -> float:
        sweep = self.settings.sweep_interval_seconds
        if len(self._runs) >= self.settings.calendars_in_parallel:
            return sweep  # nothing can start before a run finishes, and that wakes the loop
        return seconds_until(await self.db.read(work.next_due_time, passes=self._passes), sweep)

    async def shutdown(self) -> None:
        """Take no new work; give in-flight writes the configured time, then abandon them."""
        await finish_within(self._runs.values(), self.settings.shutdown_timeout_seconds)
        with contextlib.suppress(Exception):
            await self.db.run(leases.release_all_leases, self.owner)
        self.db.close()


"""The mail sender: a background service beside the calendar worker.

Each round it turns due reminders into outbox messages, then claims due
outbox rows a batch at a time and delivers them (delivery.py). It sleeps
until a commit that queued mail wakes it (syncd/wakeup.py), the next retry or
reminder comes due, or the periodic sweep. When the server is down the
messages wait, spending no attempts, with a backoff that grows per outage.
On stop it finishes the message in hand, gives the rest back, and gives up
waiting after `mail.shutdown_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from syncd.background import BackgroundLoop, seconds_until
from syncd.notify import queue, reminders
from syncd.notify.compose import Composer
from syncd.notify.delivery import Batch, DeliveryContext, Lane
from syncd.notify.metrics import REMINDERS_QUEUED
from syncd.notify.queue import Letter
from syncd.notify.reminders import ReminderRules
from syncd.notify.transport import MailTransport, build_transport
from syncd.retry_policy import RetryPolicy
from syncd.runtime import Runtime
from syncd.store.db import is_sqlite
from syncd.store.dbthread import DatabaseThreads
from syncd.store.group_commit import Recorder
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.notify")


def mail_sender(runtime: Runtime) -> MailSender:
    """The factory named in syncd.wiring.BACKGROUND_SERVICES."""
    return MailSender(runtime)


class MailSender(BackgroundLoop):
    name = "mail sender"
    log = log

    def __init__(
        self,
        runtime: Runtime,
        transports: Callable[[], MailTransport] | None = None,
        owner: str | None = None,
    ) -> None:
        super().__init__(runtime.waker, owner)
        self.runtime = runtime
        self.settings = settings = runtime.settings.mail
        self.round_grace_seconds = settings.shutdown_timeout_seconds
        self.db = DatabaseThreads(runtime.sessions, threads=2)
        new_transport = transports or partial(build_transport, settings)
        self.rules = ReminderRules(
            timedelta(minutes=settings.reminder_grace_minutes), settings.send_follow_ups
        )
        self.ctx = DeliveryContext(
            db=self.db,
            recorder=Recorder(self.db),
            lanes=[Lane(new_transport()) for _ in range(settings.connections)],
            composer=Composer(settings, runtime.settings.manage.secret()),
            policy=RetryPolicy(
                settings.max_attempts, settings.backoff_base_seconds, settings.backoff_max_seconds
            ),
            owner=self.owner,
            lease=timedelta(seconds=settings.lease_seconds),
        )
        self._outages = 0
        self._pause = timedelta(0)

    async def start(self) -> None:
        if is_sqlite(self.runtime.engine):
            # One process owns an SQLite database: claims left by a killed run are stale.
            await self.db.run(queue.release_all_claims)

    async def round(self, stop: asyncio.Event) -> float:
        queued = await self.db.run(reminders.promote_due, utcnow(), self.rules)
        REMINDERS_QUEUED.inc(queued)
        more = await self._deliver_due(stop)
        return 0.0 if more else await self._sleep_seconds()

    async def _deliver_due(self, stop: asyncio.Event) -> bool:
        """Deliver batch after batch, claiming the next while one is sent.

        Returns True when more may be due at once: the last batch was full, or
        the sweep interval passed (the round also promotes reminders).
        """
        until = time.monotonic() + self.settings.sweep_interval_seconds
        letters = await self._claim()
        while letters:
            full = len(letters) == self.settings.batch_size
            sending = asyncio.create_task(self._deliver(letters, stop))
            upcoming = await self._claim() if full and time.monotonic() < until else []
            if not await sending:
                await self._give_back(upcoming)
                return False
            if full and not upcoming:
                return True
            letters = upcoming
        return False

    async def _claim(self) -> list[Letter]:
        return await self.db.run(
            queue.claim_due,
            self.ctx.owner,
            utcnow(),
            lease=self.ctx.lease,
            limit=self.settings.batch_size,
            domain=self.ctx.composer.domain,
        )

    async def _deliver(self, letters: list[Letter], stop: asyncio.Event) -> bool:
        """One batch; False when stopped or the server is down."""
        self._pause = timedelta(seconds=self.ctx.policy.delay(self._outages + 1))
        down = await Batch(self.ctx, letters).deliver(stop, self._pause)
        if down is None:
            self._outages = 0
            return not stop.is_set()
        self._outages += 1
        log.warning("mail server unavailable: %s", down.reason, extra={"failures": self._outages})
        return False

    async def _give_back(self, letters: list[Letter]) -> None:
        """Claimed but not attempted: due again after the pause (now, when stopping)."""
        if letters:
            ids = [letter.outbox_id for letter in letters]
            retry_at = utcnow() + (self._pause if self._outages else timedelta(0))
            await self.db.run(queue.release, ids, self.ctx.owner, retry_at, None)

    async def _sleep_seconds(self) -> float:
        due = [t for t in await self.db.run(_next_due) if t is not None]
        return seconds_until(min(due, default=None), self.settings.sweep_interval_seconds)

    async def shutdown(self) -> None:
        """Close the transports (waiting at most a few seconds for them) and the database."""
        loop = asyncio.get_running_loop()
        lanes = self.ctx.lanes
        closing = [loop.run_in_executor(lane.thread, lane.transport.close) for lane in lanes]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*closing), timeout=5)
        for lane in self.ctx.lanes:
            lane.thread.shutdown(wait=False, cancel_futures=True)
        self.db.close()


def _next_due(session: Session) -> tuple[datetime | None, datetime | None]:
    return queue.next_due_time(session, utcnow()), reminders.next_due_time(session)


"""One claimed batch through the transport, over a few connections side by side.

Each lane is one thread with a transport (an SMTP connection) of its own. It
composes a message and sends it, then the next, without waiting for the
event loop in between; it posts the outcomes to the loop, which records them
in group commits while the lanes go on. While one lane waits on the server
another composes, so building messages stays off the critical path. The
messages of one booking share a lane, so they leave in the order queued.

Stopping, or a server that cannot be reached, halts every lane after the
message in hand; what was not sent is given back without spending an
attempt (after an outage, due again after `pause`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from syncd.notify import queue
from syncd.notify.compose import Composer
from syncd.notify.metrics import MAIL_MESSAGES
from syncd.notify.queue import Letter
from syncd.notify.transport import (
    MailError,
    MailTransport,
    PermanentMailError,
    ServerUnavailableError,
)
from syncd.retry_policy import RetryPolicy
from syncd.store.dbthread import DatabaseThreads
from syncd.store.group_commit import Recorder
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.notify")
SENT_GROUP_SECONDS = 0.25  # how long a sent message may wait to be recorded with others
POST_EVERY, POST_SECONDS = 20, 0.1  # a lane reports sent messages this many or this often


@dataclass
class Lane:
    """A thread and the transport it alone uses, so a connection is never shared."""

    transport: MailTransport
    thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="syncd-mail")
    )


@dataclass
class DeliveryContext:
    db: DatabaseThreads
    recorder: Recorder
    lanes: list[Lane]
    composer: Composer
    policy: RetryPolicy
    owner: str
    lease: timedelta

    @property
    def transport_name(self) -> str:
        return self.lanes[0].transport.name


class Batch:
    def __init__(self, ctx: DeliveryContext, letters: list[Letter]) -> None:
        self.ctx = ctx
        self.letters = letters
        self.down: ServerUnavailableError | None = None
        self._halt = threading.Event()  # read by the lanes between messages
        self._lanes_done = asyncio.Event()
        self._records: list[asyncio.Future[Any]] = []
        self._sent: list[int] = []
        self._recording_sent: asyncio.Future[None] | None = None

    async def deliver(self, stop: asyncio.Event, pause: timedelta) -> ServerUnavailableError | None:
        """Send every letter unless stopped, or until the server is down (returned)."""
        loop = asyncio.get_running_loop()
        lanes = self.ctx.lanes
        watching = asyncio.create_task(self._watch(stop))
        try:
            unsent = await asyncio.gather(*(
                loop.run_in_executor(lane.thread, self._run_lane, lane, letters, loop)
                for lane, letters in zip(lanes, self._by_lane(len(lanes)), strict=True)
            ))
        finally:
            watching.cancel()
            self._lanes_done.set()
        await self._release([letter for rest in unsent for letter in rest], pause)
        await asyncio.gather(*self._records, self._recording_sent or asyncio.sleep(0))
        return self.down

    def _by_lane(self, lanes: int) -> list[list[Letter]]:
        """The letters of one booking share a lane, so they arrive in the order queued."""
        shares: list[list[Letter]] = [[] for _ in range(lanes)]
        for letter in self.letters:
            key = letter.payload.get("facts", {}).get("uid") or letter.to_address
            shares[zlib.crc32(key.encode()) % lanes].append(letter)
        return shares

    async def _watch(self, stop: asyncio.Event) -> None:
        """Halt the lanes on stop; keep the batch's claims alive while it lasts."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ctx.lease.total_seconds() / 2)
                self._halt.set()
                return
            ids = [letter.outbox_id for letter in self.letters]
            until = utcnow() + self.ctx.lease
            await self.ctx.db.run(queue.extend_claims, ids, self.ctx.owner, until)

    def _run_lane(
        self, lane: Lane, letters: list[Letter], loop: asyncio.AbstractEventLoop
    ) -> list[Letter]:
        """In the lane's thread: send `letters` in turn; returns those not sent."""
        sent = _SentIds(loop, self._record_sent)
        try:
            for index, letter in enumerate(letters):
                if self._halt.is_set():
                    return letters[index:]
                try:
                    lane.transport.send(self.ctx.composer.envelope(letter))
                except ServerUnavailableError as error:
                    self._halt.set()
                    loop.call_soon_threadsafe(self._server_down, error)
                    return letters[index:]
                except Exception as error:  # sorted out by _settle
                    loop.call_soon_threadsafe(self._settle, letter, error)
                else:
                    sent.add(letter.outbox_id)
            return []
        finally:
            sent.post()

    def _server_down(self, error: ServerUnavailableError) -> None:
        self.down = self.down or error
        MAIL_MESSAGES.labels(self.ctx.transport_name, "server_down").inc()

    def _settle(self, letter: Letter, error: Exception) -> None:
        if isinstance(error, PermanentMailError):
            self._failed(letter, error.reason)
        elif isinstance(error, MailError):
            self._retry(letter, error.reason)
        else:  # a template or data problem: retried, then failed
            reason = f"could not compose the message ({type(error).__name__})"
            # the exception's text may quote the booking, so only its type is logged
            log.error(reason, extra={"outbox_id": letter.outbox_id})
            self._retry(letter, reason)

    def _record_sent(self, ids: list[int]) -> None:
        """Sent messages are recorded a group at a time: one statement, one commit."""
        MAIL_MESSAGES.labels(self.ctx.transport_name, "sent").inc(len(ids))
        self._sent.extend(ids)
        if self._recording_sent is None or self._recording_sent.done():
            self._recording_sent = asyncio.ensure_future(self._write_sent())

    async def _write_sent(self) -> None:
        while self._sent:
            # A commit per message would cost more than sending it: gather a group
            # for a moment (or until the lanes are done), then record it at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lanes_done.wait(), SENT_GROUP_SECONDS)
            ids, self._sent = self._sent, []
            await self.ctx.recorder.record(partial(queue.mark_sent, ids=ids, now=utcnow()))

    def _record(self, write: Callable[[Session], object]) -> None:
        self._records.append(asyncio.ensure_future(self.ctx.recorder.record(write)))

    def _failed(self, letter: Letter, reason: str) -> None:
        log.warning("message refused for good", extra={"outbox_id": letter.outbox_id})
        self._record(partial(
            queue.mark_failed, outbox_id=letter.outbox_id, owner=self.ctx.owner, error=reason
        ))
        MAIL_MESSAGES.labels(self.ctx.transport_name, "failed").inc()

    def _retry(self, letter: Letter, reason: str) -> None:
        attempt = letter.attempts + 1
        if self.ctx.policy.gives_up_after(attempt):
            self._failed(letter, f"gave up after {attempt} attempts: {reason}")
            return
        retry_at = utcnow() + timedelta(seconds=self.ctx.policy.delay(attempt))
        self._record(partial(
            queue.mark_retry,
            outbox_id=letter.outbox_id,
            owner=self.ctx.owner,
            error=reason,
            retry_at=retry_at,
        ))
        MAIL_MESSAGES.labels(self.ctx.transport_name, "retry").inc()

    async def _release(self, letters: list[Letter], pause: timedelta) -> None:
        """Give letters back without spending their attempts."""
        if not letters:
            return
        ids = [letter.outbox_id for letter in letters]
        wait, reason = (pause, self.down.reason) if self.down else (timedelta(0), None)
        release = partial(
            queue.release, ids=ids, owner=self.ctx.owner, retry_at=utcnow() + wait, error=reason
        )
        await self.ctx.recorder.record(release)


class _SentIds:
    """A lane's sent messages, handed to the event loop a handful at a time.

    Waking the loop for every message would cost the lanes more than it saves.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[int]], None]
    ) -> None:
        self._loop, self._deliver = loop, deliver
        self._ids: list[int] = []
        self._since = time.monotonic()

    def add(self, outbox_id: int) -> None:
        self._ids.append(outbox_id)
        if len(self._ids) >= POST_EVERY or time.monotonic() - self._since > POST_SECONDS:
            self.post()

    def post(self) -> None:
        if self._ids:
            self._loop.call_soon_threadsafe(self._deliver, self._ids)
        self._ids, self._since = [], time.monotonic()

"""The loop under every background service: the worker, the mail and the webhook senders.

Each runs rounds until its `stop` event is set. After a round it sleeps until
woken (a commit that queued work for it, see syncd/wakeup.py, or a wake-up of
its own), until the time the round asked for (the next retry coming due), or
at the latest until its periodic sweep, the safety net for wake-ups lost to
other processes or crashes. A database outage in a round is waited out with
the shared `Backoff` rather than ending the service. On stop the round under
way is let finish (for at most `round_grace_seconds`, when set), then the
service finishes or gives back what it holds (`shutdown`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime

from syncd.store.outage import Backoff, outage_or_raise
from syncd.timeutil import utcnow
from syncd.wakeup import Waker

MIN_SLEEP_SECONDS = 0.02


def worker_identity() -> str:
    """A name for this process's claims and leases, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def seconds_until(due: datetime | None, sweep: float) -> float:
    """How long to sleep for work due at `due`: never past the sweep, never a busy spin."""
    if due is None:
        return sweep
    return min(sweep, max(MIN_SLEEP_SECONDS, (due - utcnow()).total_seconds()))


async def first_of(
    events: Iterable[asyncio.Event], seconds: float | None, tasks: Iterable[asyncio.Task[None]] = ()
) -> bool:
    """Wait until any of `events` is set or `tasks` ends, at most `seconds`; False if none."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(
            [*waiters, *tasks], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


async def finish_within(tasks: Iterable[asyncio.Task[None]], seconds: float | None) -> None:
    """Give `tasks` `seconds` to finish, then cancel those still running."""
    running = list(tasks)
    if not running:
        return
    _, unfinished = await asyncio.wait(running, timeout=seconds)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)


class BackgroundLoop(ABC):
    """Rounds until stopped, with wake-ups, a sweep and outage backoff; subclasses fill in
    `round` (and, as they need, `start`, `shutdown` and the `after_*` hooks)."""

    name = "background service"
    log = logging.getLogger("syncd")
    round_grace_seconds: float | None = None  # None: the round under way always finishes

    def __init__(self, waker: Waker, owner: str | None = None) -> None:
        self.waker = waker
        self.owner = owner or worker_identity()
        self.stopping = asyncio.Event()  # set once stopped: take nothing new
        self.wake = asyncio.Event()  # news for this service: a commit elsewhere
        self.wake_events: tuple[asyncio.Event, ...] = (self.wake,)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then shut down; raises what ended the rounds, if anything."""
        self.waker.attach(asyncio.get_running_loop(), self.wake)
        self.log.info("%s started", self.name, extra={"worker": self.owner})
        rounds = asyncio.create_task(self._rounds(stop))
        try:
            await first_of([stop], None, tasks=[rounds])
            await finish_within([rounds], self.round_grace_seconds)
        finally:
            rounds.cancel()
            await asyncio.gather(rounds, return_exceptions=True)
            self.waker.detach(self.wake)
            self.stopping.set()
            await self.shutdown()
            self.log.info("%s stopped", self.name, extra={"worker": self.owner})
        error = None if rounds.cancelled() else rounds.exception()
        if error is not None:
            raise error

    async def _rounds(self, stop: asyncio.Event) -> None:
        await self.start()
        backoff = Backoff(self.name)
        while not stop.is_set():
            self.before_round()
            for event in self.wake_events:
                event.clear()
            try:
                sleep = await self.round(stop)
            except Exception as error:  # the database went away: try again soon
                await backoff.wait(outage_or_raise(error), stop)
                self.after_outage()
                continue
            backoff.recovered()
            if sleep > 0:
                self.after_sleep(woken=await first_of((*self.wake_events, stop), sleep))

    async def start(self) -> None:  # noqa: B027 - an optional hook
        """Before the first round."""

    @abstractmethod
    async def round(self, stop: asyncio.Event) -> float:
        """One round of work (to cut short on `stop`); how long to sleep then (0: no sleep)."""

    def before_round(self) -> None:  # noqa: B027 - an optional hook
        """At the start of every round, before the wake-ups are cleared."""

    def after_outage(self) -> None:  # noqa: B027 - an optional hook
        """After a database outage was waited out."""

    def after_sleep(self, *, woken: bool) -> None:  # noqa: B027 - an optional hook
        """After the sleep between rounds; `woken`: cut short by a wake-up or stop."""

    async def shutdown(self) -> None:  # noqa: B027 - an optional hook
        """After the last round: finish or give back what is in hand."""

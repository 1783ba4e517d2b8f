"""Wake the worker right after a commit that made mirrors pending.

The API commits in worker threads; the worker waits on an asyncio event in its
own loop. `Waker` bridges the two within a process. On PostgreSQL the same
commit also carries a `NOTIFY syncd_wake`, which `syncd.store.listen` turns into
wake-ups in every other process. The periodic sweep remains the safety net
for wake-ups that are lost (a dropped connection, or a crash).
"""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

from syncd.store.mirrors import DIRTY_BINDINGS
from syncd.store.session import SyncdSession

# Set in session.info by whatever queues outgoing mail or webhooks in a transaction.
OUTBOX_DIRTY = "syncd.outbox_dirty"


class Waker:
    """Wakes every attached loop (the worker, the mail and webhook senders) after a commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def attach(self, loop: asyncio.AbstractEventLoop, wake_event: asyncio.Event) -> None:
        """Called by a background task from its loop before it starts waiting."""
        with self._lock:
            self._waiters.append((loop, wake_event))

    def detach(self, wake_event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = [w for w in self._waiters if w[1] is not wake_event]

    def wake(self) -> None:
        """Safe from any thread, including an attached loop's own."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, wake_event in waiters:
            _set_in(loop, wake_event)

    def watch(self, sessions: sessionmaker[SyncdSession]) -> None:
        """Wake after every commit of a session from `sessions` that dirtied mirrors."""
        event.listen(sessions, "before_commit", _notify_other_processes)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_soft_rollback", _forget)

    def _after_commit(self, session: Session) -> None:
        dirty = session.info.pop(DIRTY_BINDINGS, None)
        if dirty or session.info.pop(OUTBOX_DIRTY, None):
            self.wake()


WAKE_CHANNEL = "syncd_wake"


def _has_news(session: Session) -> bool:
    return bool(session.info.get(DIRTY_BINDINGS) or session.info.get(OUTBOX_DIRTY))


def _notify_other_processes(session: Session) -> None:
    # NOTIFY is transactional: delivered to listeners only if this commit succeeds.
    if _has_news(session) and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {WAKE_CHANNEL}"))


def _set_in(loop: asyncio.AbstractEventLoop, wake_event: asyncio.Event) -> None:
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        wake_event.set()
    else:
        loop.call_soon_threadsafe(wake_event.set)


def _forget(session: Session, _previous: object) -> None:
    session.info.pop(DIRTY_BINDINGS, None)
    session.info.pop(OUTBOX_DIRTY, None)

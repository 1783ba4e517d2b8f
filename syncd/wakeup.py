"""Wake the worker right after a commit that made mirrors pending.

The API commits in worker threads; the worker waits on an asyncio event in its
own loop. `Waker` bridges the two. The periodic sweep remains the safety net
for wake-ups that are lost (another process committed, or a crash).
"""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from syncd.store.mirrors import DIRTY_BINDINGS


class Waker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, wake_event: asyncio.Event) -> None:
        """Called by the worker from its loop before it starts waiting."""
        with self._lock:
            self._loop, self._event = loop, wake_event

    def detach(self) -> None:
        with self._lock:
            self._loop = self._event = None

    def wake(self) -> None:
        """Safe from any thread, including the worker's own loop."""
        with self._lock:
            loop, wake_event = self._loop, self._event
        if loop is None or wake_event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake_event.set()
        else:
            loop.call_soon_threadsafe(wake_event.set)

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Wake after every commit of a session from `sessions` that dirtied mirrors."""
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_soft_rollback", _forget)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(DIRTY_BINDINGS, None):
            self.wake()


def _forget(session: Session, _previous: object) -> None:
    session.info.pop(DIRTY_BINDINGS, None)

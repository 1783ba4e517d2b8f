"""Wake-ups from other processes on PostgreSQL (LISTEN syncd_wake).

Several `syncd web` and `syncd worker` processes share one database; a commit
in one must wake the workers and senders of all. This task holds one
connection listening on the wake channel and hands each notification to the
process's `Waker`. A lost connection is re-opened with backoff; meanwhile the
sweep keeps everything moving.

The task sleeps on the connection's socket until the server sends something:
psycopg's own `notifies()` wakes every 100 ms to look (its wait interval),
which for two listeners per process was a loop wake-up every 50 ms, idle or not.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from psycopg.pq.abc import PGconn
from sqlalchemy.engine import make_url

from syncd.wakeup import WAKE_CHANNEL, Waker

log = logging.getLogger("syncd.listen")
RECONNECT_MAX_SECONDS = 30.0


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_wakeups(
    url: str, waker: Waker, stop: asyncio.Event, channel: str = WAKE_CHANNEL
) -> None:
    """Until `stop`: every NOTIFY on `channel` wakes this process's loops attached to
    `waker` (the wake channel: the worker and senders; syncd_accounts: the refresher)."""
    delay = 0.5
    while not stop.is_set():
        try:
            await _listen(libpq_url(url), waker, stop, channel)
            delay = 0.5
        except (psycopg.Error, OSError) as error:
            log.warning("wake-up listener lost its connection: %s", type(error).__name__)
            waker.wake()  # something may have been missed while disconnected
            await _sleep_unless_stopped(stop, delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)


async def _listen(url: str, waker: Waker, stop: asyncio.Event, channel: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(f"LISTEN {channel}")
        log.info("listening for wake-ups" if channel == WAKE_CHANNEL else f"listening on {channel}")
        # Commits made before LISTEN took effect (while starting, or reconnecting) woke no
        # one here; one pass now picks them up instead of the next sweep.
        waker.wake()
        while await _readable(connection.pgconn.socket, stop):
            if _notifications(connection.pgconn):
                waker.wake()


async def _readable(socket: int, stop: asyncio.Event) -> bool:
    """Until the server sends something on `socket` (True) or `stop` is set (False)."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(socket, _settle, readable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([readable, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(socket)
        stopped.cancel()
    return not stop.is_set()


def _settle(readable: asyncio.Future[None]) -> None:
    if not readable.done():
        readable.set_result(None)


def _notifications(pgconn: PGconn) -> int:
    """How many notifications the server sent: read what arrived, without blocking. A
    closed connection raises psycopg.OperationalError here."""
    pgconn.consume_input()
    count = 0
    while pgconn.notifies() is not None:
        count += 1
    return count


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return

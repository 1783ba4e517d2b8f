"""A database that is gone, full or refusing writes: told apart from a bug.

Every process meets these as exceptions out of SQLAlchemy. `outage_of` names
the cause, so the API can answer 503 with `Retry-After` and a code saying what
is wrong, and the long-running loops can wait and try again instead of
exiting. `Backoff` is the one wait they share: doubling from half a second to
`MAX_BACKOFF_SECONDS`, cut short by `stop`.

    unreachable  connection refused or lost, server shutting down, pool exhausted
    full         SQLite SQLITE_FULL, PostgreSQL 53100 disk_full
    read_only    SQLite SQLITE_READONLY, PostgreSQL 25006 (a standby, or read-only set)
    busy         SQLite SQLITE_BUSY after its busy timeout
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum

import psycopg
from prometheus_client import Counter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("syncd.store")
MAX_BACKOFF_SECONDS = 5.0
DATABASE_OUTAGES = Counter(
    "syncd_database_outages_total",
    "Database outages met: once per outage by each waiting loop, once per refused request",
    ["cause"],  # database_unavailable, database_full, database_read_only, database_busy
)


class Outage(StrEnum):
    UNREACHABLE = "database_unavailable"
    FULL = "database_full"
    READ_ONLY = "database_read_only"
    BUSY = "database_busy"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def retry_after_seconds(self) -> int:
        return 30 if self in (Outage.FULL, Outage.READ_ONLY) else 5

    def record(self) -> None:
        DATABASE_OUTAGES.labels(self.value).inc()


_MESSAGES = {
    Outage.UNREACHABLE: "the database cannot be reached; nothing was changed, try again",
    Outage.FULL: "the database's disk is full; nothing was changed, try again later",
    Outage.READ_ONLY: "the database refuses writes; nothing was changed, try again later",
    Outage.BUSY: "the database is busy; nothing was changed, try again",
}
for _outage in Outage:  # served at 0 from the start: a rise, not an appearance, alerts
    DATABASE_OUTAGES.labels(_outage.value)
_SQLITE = {
    "SQLITE_FULL": Outage.FULL,
    "SQLITE_READONLY": Outage.READ_ONLY,
    "SQLITE_BUSY": Outage.BUSY,
    "SQLITE_LOCKED": Outage.BUSY,
    "SQLITE_IOERR": Outage.UNREACHABLE,
    "SQLITE_CANTOPEN": Outage.UNREACHABLE,
}
_POSTGRES = {"53100": Outage.FULL, "25006": Outage.READ_ONLY}
_POSTGRES_CLASSES = {"08": Outage.UNREACHABLE, "57": Outage.UNREACHABLE, "53": Outage.UNREACHABLE}


def outage_of(error: BaseException) -> Outage | None:
    """The outage `error` reports, or None when it is something else (a bug, bad data).

    Raw driver errors count too: some reads use the driver directly (syncd.store.prepared)."""
    if isinstance(error, PoolTimeout):
        return Outage.UNREACHABLE
    if isinstance(error, DBAPIError):
        found = _driver_outage(error.orig)
        return Outage.UNREACHABLE if found is None and error.connection_invalidated else found
    if isinstance(error, sqlite3.Error | psycopg.Error):
        return _driver_outage(error)
    return None


def outage_or_raise(error: Exception) -> Outage:
    """The outage behind `error`; `error` itself, raised again, when it is no outage."""
    outage = outage_of(error)
    if outage is None:
        raise error
    return outage


def _driver_outage(orig: BaseException | None) -> Outage | None:
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "")
        return _SQLITE.get("_".join(name.split("_")[:2]))  # SQLITE_IOERR_WRITE: SQLITE_IOERR
    if not isinstance(orig, psycopg.Error):
        return None
    state = orig.sqlstate
    if state is None:  # no server answered, so no SQLSTATE
        lost = isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
        return Outage.UNREACHABLE if lost else None
    return _POSTGRES.get(state) or _POSTGRES_CLASSES.get(state[:2])


@dataclass
class Backoff:
    """Waits between attempts while the database is out, and says so once per outage."""

    what: str
    _seconds: float = field(default=0.0, init=False)

    async def wait(self, outage: Outage, stop: asyncio.Event) -> None:
        if self._seconds == 0:
            log.warning("%s: %s; retrying with backoff", self.what, outage.message.split(";")[0])
            outage.record()
        self._seconds = min(MAX_BACKOFF_SECONDS, max(0.5, self._seconds * 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._seconds)

    def recovered(self) -> None:
        if self._seconds:
            log.warning("%s: the database is back", self.what)
        self._seconds = 0.0

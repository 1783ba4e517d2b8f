"""Liveness and readiness.

`/healthz` says the process answers. `/readyz` says it can do its job: the
database answers and takes a write (a full disk or a read-only database fails
the check though SELECT works), its schema is the one this code expects, and (in a process
that runs the worker) the worker loop went round recently. Each check is
reported by name, so a 503 says which one failed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.store import schema
from syncd.store.db import is_sqlite
from syncd.store.outage import Outage, outage_of

Check = dict[str, Any]  # {"ok": bool, ...details}; never a secret or a URL
SQLITE_MIN_FREE_BYTES = 1 << 20  # a few transactions' log and pages
_PROBE_WRITE = text("UPDATE readiness_probe SET probed_at = CURRENT_TIMESTAMP WHERE id = 1")


class Heartbeat:
    """When a loop last went round; written by the loop, read by the probes' threads.
    `clock` (monotonic seconds) is the process's own unless a test steers it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self._last: float | None = None

    def beat(self) -> None:
        self._last = self.clock()

    def seconds_since(self) -> float | None:
        """Seconds since the last beat, or None before the first."""
        last = self._last
        return None if last is None else self.clock() - last

    def seconds_since_start(self) -> float:
        return self.clock() - self.started


@dataclass(frozen=True)
class ReadinessReport:
    checks: dict[str, Check]

    @property
    def failing(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]

    @property
    def ready(self) -> bool:
        return not self.failing

    def body(self) -> dict[str, Any]:
        status = "ready" if self.ready else "not ready"
        return {"status": status, "failing": self.failing, "checks": self.checks}


@dataclass
class Readiness:
    """The checks behind /readyz. `worker` is the worker loop's heartbeat where one runs."""

    engine: Engine
    worker: Heartbeat | None = None
    worker_stale_after_seconds: float = 70.0
    timeout_seconds: float = 5.0
    _expected: frozenset[str] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _probe: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._expected = frozenset(schema.head_revisions())

    def report(self) -> ReadinessReport:
        """Run every check; blocks for at most about `timeout_seconds`."""
        checks = self._database_checks()
        if self.worker is not None:
            checks["worker"] = self._worker_check(self.worker)
        return ReadinessReport(checks)

    def _database_checks(self) -> dict[str, Check]:
        """Database and migrations, asked in a thread of their own so a hung server
        costs the probe `timeout_seconds`, and at most one thread stays stuck."""
        with self._lock:
            if self._probe is not None and self._probe.is_alive():
                return {"database": _failed("the previous check is still waiting for it")}
            answer: dict[str, Check] = {}
            probe = threading.Thread(
                target=lambda: answer.update(self._ask_database()),
                name="syncd-readyz",
                daemon=True,
            )
            self._probe = probe
            probe.start()
        probe.join(self.timeout_seconds)
        if probe.is_alive():
            return {"database": _failed(f"no answer within {self.timeout_seconds:g}s")}
        return answer

    def _ask_database(self) -> dict[str, Check]:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                current = set(MigrationContext.configure(connection).get_current_heads())
        except SQLAlchemyError as error:
            return {"database": _database_failed("cannot query it", error)}
        migrations: Check = {
            "ok": current == self._expected,
            "current": sorted(current),
            "expected": sorted(self._expected),
        }
        if not migrations["ok"]:
            migrations["error"] = "schema is not current; run `syncd db upgrade`"
            return {"database": {"ok": True}, "migrations": migrations}
        return {"database": self._write_check(), "migrations": migrations}

    def _write_check(self) -> Check:
        """A database that answers SELECT may still refuse every write (a full disk, a
        read-only standby): the probe writes its one row."""
        try:
            with self.engine.begin() as connection:
                connection.execute(_PROBE_WRITE)
        except SQLAlchemyError as error:
            return _database_failed("cannot write to it", error)
        return _sqlite_room(self.engine)

    def _worker_check(self, heartbeat: Heartbeat) -> Check:
        silence = heartbeat.seconds_since()
        if silence is None:
            return _failed("the worker has not started")
        if silence > self.worker_stale_after_seconds:
            return _failed(f"the worker loop has not gone round for {silence:.0f}s")
        return {"ok": True, "seconds_since_last_pass": round(silence, 3)}


def _sqlite_room(engine: Engine) -> Check:
    """SQLite writes a small change into log space it already holds: on a full disk the
    probe's write passes while a booking's fails. So its filesystem must have room."""
    database = engine.url.database if is_sqlite(engine) else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return {"ok": True}
    stats = os.statvfs(Path(database).resolve().parent)
    free = stats.f_bavail * stats.f_frsize
    if free >= SQLITE_MIN_FREE_BYTES:
        return {"ok": True}
    message = f"its disk is full ({free // 1024} KiB free)"
    return {**_failed(message), "cause": Outage.FULL.value}


def _failed(error: str) -> Check:
    return {"ok": False, "error": error}


def _database_failed(doing: str, error: SQLAlchemyError) -> Check:
    # The cause's name only: a driver's message may quote the connection string.
    outage = outage_of(error)
    if outage is None:
        return _failed(f"{doing} ({type(error).__name__})")
    return {**_failed(f"{doing}: {outage.message.split(';')[0]}"), "cause": outage.value}


def readiness_for(
    engine: Engine, worker: Heartbeat | None, sweep_interval_seconds: float
) -> Readiness:
    """The worker loop goes round at least once per sweep; two sweeps and a margin
    without a pass mean it is stuck."""
    return Readiness(engine, worker, worker_stale_after_seconds=2 * sweep_interval_seconds + 10)

"""On PostgreSQL a `syncd worker` is woken by commits made in another process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.runtime import Runtime
from tests import factories as f
from tests.dbs import postgres_schema_url
from tests.e2e.conftest import WorkerProcess, pending_count, wait_until, write_config


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def test_a_commit_elsewhere_wakes_the_worker_at_once(
    tmp_path: Path, postgres_url: str, runtime_for: Callable[[Path], Runtime]
) -> None:
    config = write_config(tmp_path / "syncd.toml", postgres_url, {"kind": "memory"},
                          sweep_interval_seconds=3600.0)
    runtime = runtime_for(config)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
    log = tmp_path / "worker.log"
    worker = WorkerProcess(config, log)
    worker.start()
    try:
        wait_until(lambda: "listening for wake-ups" in log.read_text(), 30, "the listener")
        with runtime.sessions.begin() as session:
            f.book(session, "b1", "alice", f.slot(0))
        started = time.monotonic()
        wait_until(lambda: pending_count(runtime) == 0, 10, "the booking mirrored")
        assert time.monotonic() - started < 5.0  # the sweep is an hour away
        assert worker.terminate() == 0
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.kill()

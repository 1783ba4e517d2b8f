from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.wiring import build_runtime
from tests.servers import DavServer, RadicaleServer

CALENDARS = ("alice", "bob", "carol", "dave")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(name: str, values: dict[str, object]) -> list[str]:
    return [f"[{name}]", *(f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None)]


def write_config(path: Path, database: str, connector: dict[str, object], **worker: object) -> Path:
    """A configuration for `syncd worker` subprocesses, with quick retries."""
    settings = {
        "sweep_interval_seconds": 1.0,
        "backoff_base_seconds": 0.1,
        "backoff_max_seconds": 1.0,
        "lease_seconds": 5.0,
        **worker,
    }
    lines = [
        *_table("database", {"url": database}),
        *_table("worker", settings),
        *_table("connectors.local", connector),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def with_calendars(server: DavServer) -> None:
    """Create the collections of CALENDARS (a server of the test's own: fixed names)."""
    for name in CALENDARS:
        server.create_collection(name)


@pytest.fixture
def dav_server(own_radicale: RadicaleServer) -> RadicaleServer:
    """Radicale with the calendars of CALENDARS, for the test alone (it stops or loads it)."""
    with_calendars(own_radicale)
    return own_radicale


@pytest.fixture
def family_server(own_family_server: DavServer) -> DavServer:
    """A server of each family in turn, with the calendars of CALENDARS in one account."""
    with_calendars(own_family_server)
    return own_family_server


class WorkerProcess:
    """`syncd worker` as a child process, killable at any moment."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syncd", "--config", str(self.config), "worker"],
                stdout=out,
                stderr=out,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 20) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def pending_count(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return count_pending(session)


@pytest.fixture
def runtime_for(tmp_path: Path) -> Iterator[Callable[[Path], Runtime]]:
    made: list[Runtime] = []

    def make(config: Path) -> Runtime:
        runtime = build_runtime(load_config(config, environ={}))
        upgrade(runtime.engine)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()

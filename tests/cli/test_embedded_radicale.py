"""The embedded Radicale of `syncd run` ends with it, however syncd ends, and a start
that finds one left by an earlier run on its port replaces it; a stranger on the port is
named, not used."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.ops.ports import command_line, listener_pid
from tests.cli.test_cli import start_daemon, wait_for_health
from tests.e2e.conftest import wait_until
from tests.servers import free_port

CONFIG = """
[database]
url = "sqlite:///{root}/s.db"
[api]
port = {api}
key_env = "SYNCD_TEST_KEY"
[embedded]
radicale = true
radicale_port = {dav}
data_dir = "{root}/radicale"
generate_secrets = true
[connectors.local]
kind = "caldav"
url = "http://127.0.0.1:{dav}/"
username = "syncd"
password_file = "{root}/radicale/password"
"""


class Setup:
    def __init__(self, root: Path) -> None:
        self.root, self.api, self.dav = root, free_port(), free_port()
        self.config = root / "syncd.toml"
        self.config.write_text(CONFIG.format(root=root, api=self.api, dav=self.dav))
        (root / "radicale").mkdir()
        self.runs = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        daemon = start_daemon(self.config, self.root / f"syncd{self.runs}.log")
        wait_for_health(self.api, daemon)
        return daemon

    def radicale(self) -> int | None:
        return listener_pid(self.dav)

    def log(self) -> str:
        return (self.root / f"syncd{self.runs}.log").read_text()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    made = Setup(tmp_path)
    yield made
    pid = made.radicale()
    if pid is not None:  # whatever a failed test left
        os.kill(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state == "Z"  # ended, waiting for a parent's wait()


def test_the_radicale_of_a_killed_syncd_run_ends_within_seconds(setup: Setup) -> None:
    daemon = setup.start()
    radicale = setup.radicale()
    assert radicale is not None
    assert "radicale" in command_line(radicale)
    daemon.kill()
    daemon.wait()
    wait_until(lambda: gone(radicale), 10, "the orphaned Radicale to end")
    assert setup.radicale() is None


def test_a_start_replaces_the_radicale_an_earlier_run_left(setup: Setup) -> None:
    daemon = setup.start()
    daemon.terminate()
    assert daemon.wait(20) == 0
    assert setup.radicale() is None  # a clean stop leaves nothing
    # What a syncd run without the parent watch left behind: a Radicale on its own.
    config = str(setup.root / "radicale" / "config")
    stale = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", config], start_new_session=True
    )
    try:
        wait_until(lambda: setup.radicale() == stale.pid, 15, "the stale Radicale to listen")
        daemon = setup.start()
        assert stale.wait(15) is not None
        replacement = setup.radicale()
        assert replacement not in (None, stale.pid)
        assert "left by an earlier run" in setup.log()
    finally:
        stale.kill()
    daemon.terminate()
    assert daemon.wait(20) == 0
    wait_until(lambda: setup.radicale() is None, 10, "the Radicale to stop with syncd")


def test_a_port_taken_by_another_program_is_named(setup: Setup) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", setup.dav))
        stranger.listen()
        process = start_daemon(setup.config, setup.root / "syncd1.log")
        setup.runs = 1
        assert process.wait(30) == 2
    log = setup.log()
    assert f"port {setup.dav} is taken by pid {os.getpid()}" in log, log

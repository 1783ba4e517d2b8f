"""The example systemd units under config/: every command they run is one the CLI
accepts, and run as the unit runs them (migrate, then serve with READY=1 to systemd,
stop on SIGTERM) they work. The Dockerfile runs the same command with the same paths."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.cli import parser
from syncd.config import load_config
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
MAIN_UNIT = ROOT / "config" / "syncd.service"
WORKER_UNIT = ROOT / "config" / "syncd-worker@.service"
UNITS = [MAIN_UNIT, WORKER_UNIT]
EXECUTABLE = "/usr/local/bin/syncd"  # where the Dockerfile's install puts it
CONFIG = "/etc/syncd/syncd.toml"
SYNCD = Path(sys.executable).parent / "syncd"


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists: systemd allows a key more than once."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, equals, value = line.partition("=")
        assert equals, f"{path.name}: not key=value: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], key: str) -> list[str]:
    return [v for k, v in unit["Service"] if k == key]


def exec_argv(command: str, instance: str = "9465") -> list[str]:
    argv = shlex.split(command.replace("%i", instance))
    argv[0] = argv[0].lstrip("-+!@:")  # systemd's prefixes: ignore failure, full privileges...
    return argv


def unit_environment(unit: dict[str, list[tuple[str, str]]], instance: str) -> dict[str, str]:
    pairs = [p for v in values(unit, "Environment") for p in shlex.split(v)]
    return dict(p.replace("%i", instance).split("=", 1) for p in pairs)


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_command_is_one_the_cli_accepts(path: Path) -> None:
    unit = parse_unit(path)
    commands = [c for key in ("ExecStartPre", "ExecStart") for c in values(unit, key)]
    assert len(values(unit, "ExecStart")) == 1
    for command in commands:
        argv = exec_argv(command)
        assert argv[0] == EXECUTABLE
        args = parser().parse_args(argv[1:])  # SystemExit (exit 2) on anything unknown
        assert str(args.config) == CONFIG
    assert exec_argv(values(unit, "ExecStartPre")[0])[-2:] == ["db", "upgrade"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_the_units_settings_load_with_the_example_configuration(path: Path) -> None:
    unit = parse_unit(path)
    assert values(unit, "Type") == ["notify"]
    assert values(unit, "Restart") == ["on-failure"]
    assert values(unit, "User") == ["syncd"]
    assert values(unit, "NoNewPrivileges") == ["yes"]
    assert values(unit, "ProtectSystem") == ["strict"]
    assert values(unit, "EnvironmentFile") == ["/etc/syncd/syncd.env"]
    environ = unit_environment(unit, "9465")
    assert all(name.startswith("SYNCD_") for name in environ)
    load_config(ROOT / "config" / "syncd.example.toml", environ=environ)  # ConfigError if not


def test_the_dockerfile_runs_the_same_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M)[1])  # type: ignore[index]
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M)[1])  # type: ignore[index]
    assert entrypoint[:3] == ["syncd", "--config", CONFIG]
    parser().parse_args([*entrypoint[1:], *command])
    unit_argv = exec_argv(values(parse_unit(MAIN_UNIT), "ExecStart")[0])
    assert unit_argv[-1] == command[-1] == "run"
    settings = re.findall(r"\b(SYNCD_[A-Z_]+)=(\S+)", dockerfile)
    assert settings, "the image sets its listeners' hosts"
    loaded = load_config(ROOT / "config" / "syncd.example.toml", environ=dict(settings))
    assert loaded.metrics.host == loaded.api.host == "0.0.0.0"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_finds_nothing_to_complain_about(path: Path, tmp_path: Path) -> None:
    name = path.name.replace("@.", "@9465.")
    unit = tmp_path / name
    unit.write_text(path.read_text().replace(EXECUTABLE, str(SYNCD)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
        cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """What systemd listens on for sd_notify messages of a Type=notify service."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(60)
        yield sock


def local_config(tmp_path: Path, api_port: int) -> Path:
    config = tmp_path / "syncd.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/syncd.db"\n'
        f'[api]\nport = {api_port}\nkey_env = "SYNCD_UNIT_TEST_KEY"\n'
        '[worker]\nsweep_interval_seconds = 0.5\n'
        '[connectors.local]\nkind = "memory"\n'
    )
    return config


def as_the_unit_runs_it(command: str, config: Path) -> list[str]:
    argv = exec_argv(command)
    return [str(SYNCD), *[str(config) if a == CONFIG else a for a in argv[1:]]]


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


@pytest.mark.parametrize(
    ("path", "probe"), [(MAIN_UNIT, "api"), (WORKER_UNIT, "metrics")], ids=["run", "worker"]
)
def test_the_unit_migrates_then_serves_and_stops_on_its_kill_signal(
    path: Path, probe: str, tmp_path: Path, notify_socket: socket.socket
) -> None:
    unit = parse_unit(path)
    api_port, metrics_port = free_port(), free_port()
    config = local_config(tmp_path, api_port)
    environ = {
        **os.environ,
        "SYNCD_UNIT_TEST_KEY": "k" * 32,  # what EnvironmentFile= would hold
        **unit_environment(unit, str(metrics_port)),
        "SYNCD_METRICS__PORT": str(metrics_port),
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
    }
    for command in values(unit, "ExecStartPre"):
        subprocess.run(as_the_unit_runs_it(command, config), env=environ, check=True, timeout=120)
    command = as_the_unit_runs_it(values(unit, "ExecStart")[0], config)
    log = (tmp_path / "syncd.log").open("wb")
    daemon = subprocess.Popen(command, env=environ, stdout=log, stderr=log, cwd=tmp_path)
    try:
        assert receive(notify_socket).startswith("READY=1")
        port = api_port if probe == "api" else metrics_port
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["worker"]["ok"] is True
        daemon.send_signal(getattr(signal, values(unit, "KillSignal")[0]))
        stop_timeout = float(values(unit, "TimeoutStopSec")[0])
        assert daemon.wait(timeout=stop_timeout) == 0
        assert receive(notify_socket) == "STOPPING=1"
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()

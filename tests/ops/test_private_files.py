"""`make run` under umask 022: what syncd writes is owner-only, the CalDAV password hashed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def _config(workdir: Path, api_port: int, radicale_port: int) -> Path:
    text = DEMO.read_text().replace("port = 8080", f"port = {api_port}")
    text = text.replace("5232", str(radicale_port)).replace(":8080", f":{api_port}")
    path = workdir / "syncd.toml"
    path.write_text(text + "\n[metrics]\nport = 0\n")
    return path


def _wait_for(check: object, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not check():  # type: ignore[operator]
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def demo_var(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`syncd run` on config/demo.toml in a folder, started under umask 022, until mail is out."""
    tmp_path = tmp_path_factory.mktemp("demo")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    api_port = free_port()
    config, log = _config(tmp_path, api_port, free_port()), tmp_path / "syncd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(config), "run"],
            cwd=tmp_path, stdout=out, stderr=out, umask=0o022, env=environment,
        )
    try:
        ready = f"http://127.0.0.1:{api_port}/readyz"
        _wait_for(lambda: _answers(ready), "not ready", process, log)
        mail = tmp_path / "var" / "mail"
        _wait_for(lambda: any(mail.glob("*.eml")), "no mail written", process, log)
        events = tmp_path / "var" / "radicale"
        _wait_for(lambda: any(events.rglob("*.ics")), "no event written", process, log)
        yield tmp_path / "var"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_everything_under_var_is_owner_only(demo_var: Path) -> None:
    created = [demo_var, *demo_var.rglob("*")]
    names = {p.relative_to(demo_var.parent).as_posix() for p in created}
    assert {"var/syncd.db", "var/syncd.db-wal", "var/radicale/users", "var/api-key"} <= names
    assert any(p.suffix == ".eml" for p in created)
    assert any(p.suffix == ".ics" for p in created)  # the demo's events in Radicale's folder
    loose = {p.relative_to(demo_var).as_posix(): oct(_mode(p)) for p in created
             if _mode(p) & (stat.S_IRWXG | stat.S_IRWXO)}
    assert loose == {}


def test_the_radicale_users_file_holds_a_hash_not_the_password(demo_var: Path) -> None:
    password = (demo_var / "radicale" / "password").read_text().strip()
    users = (demo_var / "radicale" / "users").read_text()
    assert password not in users
    assert users.startswith("syncd:$6$")  # sha512-crypt, which Radicale checks
    url = f"http://127.0.0.1:{_radicale_port(demo_var)}/syncd/"
    assert httpx.request("PROPFIND", url, auth=("syncd", password)).status_code == 207
    assert httpx.request("PROPFIND", url, auth=("syncd", "wrong")).status_code == 401


def _radicale_port(var: Path) -> int:
    config = (var / "radicale" / "config").read_text()
    line = next(x for x in config.splitlines() if x.startswith("hosts"))
    return int(line.rpartition(":")[2])


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    from syncd.store.db import create_db_engine

    database = tmp_path / "old.db"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    create_db_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600

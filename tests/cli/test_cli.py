"""The `syncd` command: check, db upgrade, import, and run with a graceful stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from syncd.cli import main
from syncd.notify.models import OutboxMessage
from syncd.store.models import Base, Booking, Mirror
from syncd.wiring import build_runtime
from tests.servers import free_port

GOOD_CONFIG = """
[database]
url = "sqlite:///{db}"
[api]
port = {port}
key_env = "SYNCD_TEST_KEY"
[worker]
sweep_interval_seconds = 0.5
[connectors.local]
kind = "memory"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def good_config(tmp_path: Path, port: int = 0) -> Path:
    return write(tmp_path / "syncd.toml", GOOD_CONFIG.format(db=tmp_path / "s.db", port=port))


def test_check_reports_every_problem_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_WORKER__MAX_ATTEMPTS", "zero")
    config = write(tmp_path / "bad.toml", """
[database]
url = 42
[worker]
backoff_base_seconds = -1
colour = "blue"
[connectors.cal]
kind = "caldav"
url = "ftp://example.org"
[connectors.other]
kind = "exchange2003"
""")
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    for path in ("database.url", "worker.max_attempts", "worker.backoff_base_seconds",
                 "worker.colour", "connectors.cal.url", "connectors.other.kind"):
        assert path in err, f"{path} not reported in:\n{err}"


def test_check_names_missing_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_TEST_KEY", raising=False)
    monkeypatch.delenv("SYNCD_NO_SUCH_PASSWORD", raising=False)
    config = write(tmp_path / "s.toml", GOOD_CONFIG.format(db=tmp_path / "s.db", port=0) + """
[connectors.dav]
kind = "caldav"
url = "https://dav.example.org/"
username = "u"
password_env = "SYNCD_NO_SUCH_PASSWORD"
""")
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert "SYNCD_TEST_KEY" in err
    assert "SYNCD_NO_SUCH_PASSWORD" in err


def test_check_names_a_missing_api_key_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_TEST_KEY", raising=False)
    missing = tmp_path / "no-such-key"
    text = GOOD_CONFIG.format(db=tmp_path / "s.db", port=0)
    config = write(tmp_path / "s.toml", text.replace("[api]\n", f'[api]\nkey_file = "{missing}"\n'))
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert f"api.key_file: {missing} does not exist" in err
    assert "Traceback" not in err


def test_check_accepts_a_good_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    config = good_config(tmp_path)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "check", "--online"]) == 0
    assert "configuration ok" in capsys.readouterr().out


def test_db_upgrade_is_repeatable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = good_config(tmp_path)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "database at revision" in capsys.readouterr().out


def seed_catalog(config: Path, tmp_path: Path) -> None:
    """A merchant, a service and a bound staff member, through an import's prerequisites."""
    from syncd.config import load_config
    from syncd.store.schema import upgrade
    from tests import factories as f

    runtime = build_runtime(load_config(config, environ={}))
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
    runtime.close()


def import_record(key: str, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "merchant": "acme", "key": key, "service": "cut", "staff": "alice",
        "start": "2030-05-01T09:00:00+02:00",
        "customer": {"name": "Ada", "email": "ada@example.org", "timezone": "Europe/Berlin"},
    }
    return record | changes


def count(db: Path, model: type[Base]) -> int:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        found = connection.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return int(found or 0)


def test_import_backfills_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = good_config(tmp_path)
    seed_catalog(config, tmp_path)
    records = [import_record(f"b{i}", start=f"2030-05-{1 + i % 28:02d}T09:00:00+02:00")
               for i in range(300)]
    data = write(tmp_path / "bookings.json", json.dumps(records))
    assert main(["--config", str(config), "import", str(data)]) == 0
    captured = capsys.readouterr()
    assert "imported 300 bookings (300 new" in captured.out
    assert "300/300" in captured.err  # the progress bar
    assert count(tmp_path / "s.db", Booking) == 300
    assert count(tmp_path / "s.db", Mirror) == 300
    assert count(tmp_path / "s.db", OutboxMessage) == 0, "a back-fill emails nobody"
    assert main(["--config", str(config), "import", str(data), "--no-progress"]) == 0
    assert "(0 new, 300 updated)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"start": "2030-05-01T09:00:00"}, "[1].start"),
        ({"staff": "nobody"}, "[1].staff"),
        ({"merchant": "nobody"}, "[1].merchant"),
        ({"end": "2030-05-01T08:00:00+02:00"}, "[1].end"),
    ],
)
def test_import_of_a_bad_file_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: dict[str, object], expected: str
) -> None:
    config = good_config(tmp_path)
    seed_catalog(config, tmp_path)
    records = [import_record("b0"), import_record("b1", **bad), import_record("b2")]
    data = write(tmp_path / "bookings.json", json.dumps(records))
    assert main(["--config", str(config), "import", str(data), "--no-progress"]) == 2
    assert expected in capsys.readouterr().err
    assert count(tmp_path / "s.db", Booking) == 0


def test_import_of_unreadable_json_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = good_config(tmp_path)
    data = write(tmp_path / "bookings.json", "[{not json")
    assert main(["--config", str(config), "import", str(data)]) == 2
    assert "not a readable JSON file" in capsys.readouterr().err


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SYNCD_TEST_KEY": "secret-key-for-tests"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(config), "--log-format", "json",
             "run"],
            stdout=out, stderr=out, env=env,
        )


def wait_for_health(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "syncd exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("syncd did not become healthy")


def test_run_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = good_config(tmp_path, port)
    seed_catalog(config, tmp_path)
    log = tmp_path / "syncd.log"
    daemon = start_daemon(config, log)
    try:
        wait_for_health(port, daemon)
        response = httpx.put(
            f"http://127.0.0.1:{port}/api/v1/merchants/acme/bookings/b1",
            json={k: v for k, v in import_record("b1").items() if k not in ("merchant", "key")},
            headers={"Authorization": "Bearer secret-key-for-tests"},
        )
        assert response.status_code == 201
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "worker stopped" for entry in lines)
    # the configuration users run: uvicorn's standard extras, which the install pins
    assert any(entry["message"] == "web handler on uvloop, HTTP parsed by httptools"
               for entry in lines)
    assert "ada@example.org" not in log.read_text()
    assert "secret-key-for-tests" not in log.read_text()
    engine = create_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM bookings")) == 1
    engine.dispose()


def test_a_process_waiting_for_its_database_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """Started before its database (a host booting), it waits; a stop asked meanwhile
    ends it at once with status 0, as a stop while serving does."""
    url = f"postgresql://syncd@127.0.0.1:{free_port()}/syncd"  # nothing listens there
    config = write(tmp_path / "syncd.toml", GOOD_CONFIG.replace("sqlite:///{db}", url).format(
        port=free_port()))
    log = tmp_path / "syncd.log"
    env = {**os.environ, "SYNCD_TEST_KEY": "secret-key-for-tests"}
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(config), "worker"],
            stdout=out, stderr=out, env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while "retrying with backoff" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker never waited for its database"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()

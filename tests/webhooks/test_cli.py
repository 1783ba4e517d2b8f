"""`syncd webhooks list [--failed]`, `syncd webhooks redeliver ID`, and `syncd check --online`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from syncd.cli import main
from syncd.config import load_config
from syncd.webhooks.models import WebhookDelivery
from syncd.wiring import build_runtime
from tests import factories as f
from tests.webhooks.conftest import all_deliveries, seed_shop, subscribe

CONFIG = """
[database]
url = "sqlite:///{db}"
[api]
key_env = "SYNCD_TEST_KEY"
[connectors.local]
kind = "memory"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with acme subscribed twice and one failed delivery (id 1)."""
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    path = tmp_path / "syncd.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.db"))
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    runtime = build_runtime(load_config(path, environ={}))
    seed_shop(runtime)
    subscribe(runtime, "https://hooks:s3cret@platform.example/in")
    subscribe(runtime, "https://other.example/in", key="audit")
    with runtime.sessions.begin() as session:
        f.book(session, "b1", "alice", f.slot(0))
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == 1)
            .values(state="failed", attempts=1, last_status=400, last_error="HTTP 400")
        )
    runtime.close()
    return path


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_list_shows_subscriptions_with_counts_and_no_secrets(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys, "webhooks", "list")
    assert code == 0
    assert "webhook subscriptions: 2" in out
    assert "acme/platform https://hooks:***@platform.example/in enabled" in out
    assert "pending=0 failed=1" in out
    assert "acme/audit https://other.example/in" in out
    assert "s3cret" not in out
    assert "whsec_" not in out


def test_failed_deliveries_are_listed_and_redelivered(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys, "webhooks", "list", "--failed")
    assert code == 0
    assert "failed webhook deliveries: 1" in out
    assert "  1 acme/platform booking.created msg_" in out
    assert "error=HTTP 400" in out
    code, out = run(config, capsys, "webhooks", "redeliver", "1")
    assert code == 0
    assert "delivery 1 (msg_" in out
    runtime = build_runtime(load_config(config, environ={}))
    assert [d.state for d in all_deliveries(runtime)] == ["pending", "pending"]
    runtime.close()


def test_redelivering_an_unknown_delivery_is_a_clear_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys, "webhooks", "redeliver", "99")
    assert code == 2
    assert "no webhook delivery has id 99" in out


def test_check_online_lists_the_subscriptions(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys, "check", "--online")
    assert code == 0
    assert "configuration ok" in out
    assert "acme/platform https://hooks:***@platform.example/in" in out
    assert "events=booking.created,booking.rescheduled" in out

"""`syncd check --online` asks every calendar account, reports every failure at once with
its key path, and never prints a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import main
from syncd.store.db import create_db_engine
from syncd.store.schema import upgrade
from tests.graph import GraphDouble
from tests.servers import RadicaleServer, free_port

KEY_ENV = "SYNCD_CHECK_TEST_KEY"


def config_with(tmp_path: Path, accounts: dict[str, str]) -> Path:
    database = f"sqlite:///{tmp_path / 'syncd.db'}"
    engine = create_db_engine(database)
    upgrade(engine)
    engine.dispose()
    lines = [f'[database]\nurl = "{database}"', f'[api]\nkey_env = "{KEY_ENV}"']
    lines += [f"[connectors.{name}]\n{table}" for name, table in accounts.items()]
    path = tmp_path / "syncd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def caldav(url: str, username: str, password_file: Path) -> str:
    return (
        f'kind = "caldav"\nurl = "{url}"\nusername = "{username}"\n'
        f'password_file = "{password_file}"\ntimeout_seconds = 5\n'
    )


def check_online(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(config), "check", "--online"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_good_credentials_pass(
    tmp_path: Path,
    radicale: RadicaleServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 32)
    accounts = {
        "work": caldav(radicale.url, radicale.username, radicale.password_file),
        "test": 'kind = "memory"\n',
    }
    code, out, err = check_online(config_with(tmp_path, accounts), capsys)
    assert (code, err) == (0, "")
    assert "configuration ok" in out


def test_every_failing_account_is_reported_with_its_key(
    tmp_path: Path,
    radicale: RadicaleServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 32)
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password-7d1c")
    accounts = {
        "work": caldav(radicale.url, radicale.username, wrong),
        "good": caldav(radicale.url, radicale.username, radicale.password_file),
        "gone": caldav(f"http://127.0.0.1:{free_port()}/", "u", wrong),
    }
    code, out, err = check_online(config_with(tmp_path, accounts), capsys)
    assert code == 2
    assert "configuration ok" not in out
    problems = [line.strip() for line in err.splitlines() if line.strip().startswith("- ")]
    assert len(problems) == 2, err
    assert any(p.startswith("- connectors.work: authentication failed") and "401" in p
               for p in problems), err
    assert any(p.startswith("- connectors.gone: unreachable") for p in problems), err
    assert "not-the-password-7d1c" not in err + out
    assert radicale.password not in err + out


def m365(double: GraphDouble, secret_env: str) -> str:
    return (
        f'kind = "m365"\ntenant_id = "{double.tenant_id}"\nclient_id = "{double.client_id}"\n'
        f'client_secret_env = "{secret_env}"\nauthority_host = "{double.base_url}"\n'
        f'graph_url = "{double.graph_url}"\nca_file = "{double.ca_file}"\n'
    )


def test_a_microsoft_365_tenant_is_asked_for_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 32)
    with GraphDouble() as double:
        monkeypatch.setenv("SYNCD_TEST_GOOD_SECRET", double.client_secret)
        monkeypatch.setenv("SYNCD_TEST_BAD_SECRET", "wrong-secret-4e1f")
        accounts = {
            "office": m365(double, "SYNCD_TEST_GOOD_SECRET"),
            "tenant": m365(double, "SYNCD_TEST_BAD_SECRET"),
        }
        code, out, err = check_online(config_with(tmp_path, accounts), capsys)
    assert code == 2
    problems = [line.strip() for line in err.splitlines() if line.strip().startswith("- ")]
    assert len(problems) == 1, err
    assert problems[0].startswith("- connectors.tenant: authentication failed"), err
    assert "wrong-secret-4e1f" not in err + out
    assert double.client_secret not in err + out

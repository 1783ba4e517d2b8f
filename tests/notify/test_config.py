"""The [mail] configuration: every key documented, missing secrets reported by `check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import MailSettings, Settings, load_config, settings_problems

ROOT = Path(__file__).resolve().parents[2]


def mail_problems(mail: dict[str, object]) -> list[str]:
    settings = Settings.model_validate({"api": {"key_file": "x"}, "embedded": {
        "generate_secrets": True}, "mail": mail})
    return [p for p in settings_problems(settings) if p.startswith("mail.")]


def test_every_mail_key_is_in_the_example_configuration() -> None:
    example = load_config(ROOT / "config" / "syncd.example.toml", environ={})
    text = (ROOT / "config" / "syncd.example.toml").read_text()
    for key in MailSettings.model_fields:
        assert f"\n{key} =" in text or f"\n# {key} =" in text, f"mail.{key} is not documented"
    assert example.mail.transport == "file"
    demo = load_config(ROOT / "config" / "demo.toml", environ={})
    assert (demo.mail.transport, demo.mail.directory) == ("file", "var/mail")


def test_missing_smtp_secrets_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_NO_SMTP_PASSWORD", raising=False)
    smtp = {"transport": "smtp", "username": "mailer"}
    assert mail_problems(smtp | {"password_env": "SYNCD_NO_SMTP_PASSWORD"}) == [
        "mail.password_env: SYNCD_NO_SMTP_PASSWORD is not set"
    ]
    missing = str(tmp_path / "absent")
    assert mail_problems(smtp | {"password_file": missing}) == [
        f"mail.password_file: {missing} does not exist"
    ]
    assert mail_problems(smtp) == [
        "mail.username: set mail.password_env or mail.password_file for its password"
    ]
    monkeypatch.setenv("SYNCD_NO_SMTP_PASSWORD", "s3cret")
    assert mail_problems(smtp | {"password_env": "SYNCD_NO_SMTP_PASSWORD"}) == []
    assert mail_problems({"transport": "file", "password_env": "SYNCD_UNSET_X"}) == []


def test_a_bad_from_address_is_a_configuration_error() -> None:
    from syncd.errors import ConfigError

    with pytest.raises(ConfigError, match=r"mail\.from_address"):
        load_config(None, environ={"SYNCD_MAIL__FROM_ADDRESS": "not an address"})


def _smtp_config(tmp_path: Path, **mail: object) -> Path:
    lines = ['transport = "smtp"', 'security = "none"', 'username = "mailer"',
             'password_env = "SYNCD_TEST_SMTP_PASSWORD"'] + [f"{k} = {v}" for k, v in mail.items()]
    path = tmp_path / "mail.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[api]\nkey_env = "K"\n'
                    "[mail]\n" + "\n".join(lines) + "\n")
    return path


def test_a_login_in_clear_is_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.cli import main

    monkeypatch.setenv("SYNCD_TEST_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("K", "k" * 32)
    assert main(["--config", str(_smtp_config(tmp_path)), "check"]) == 2
    refused = capsys.readouterr()
    assert "configuration ok" not in refused.out
    assert "mail" in refused.err
    assert "password in clear" in refused.err
    assert "allow_plaintext_login" in refused.err
    allowed = _smtp_config(tmp_path, allow_plaintext_login="true")
    assert main(["--config", str(allowed), "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration ok" in out
    assert "sent in clear" in out

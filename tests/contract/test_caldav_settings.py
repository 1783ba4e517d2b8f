"""The CalDAV connector's settings table, its secret, and the registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from connectors import build_connector
from connectors.caldav import CalDAVConnector, Settings, build
from syncd.errors import ConfigError

pytestmark = pytest.mark.anyio

BASE = {"kind": "caldav", "url": "https://dav.example.org/dav", "username": "alice"}


def settings(**changes: Any) -> Settings:
    return Settings.model_validate(BASE | changes)


async def test_registry_builds_a_caldav_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_TEST_DAV_PASSWORD", "hunter2")
    connector = build_connector(
        BASE | {"password_env": "SYNCD_TEST_DAV_PASSWORD", "concurrency_per_calendar": 2}
    )
    assert isinstance(connector, CalDAVConnector)
    assert connector.concurrency_per_calendar == 2
    await connector.aclose()


def test_calendar_ids_resolve_against_the_base_url() -> None:
    connector = build(settings(username=None))
    assert connector.calendar("/dav/alice/work/").path == "/dav/alice/work/"
    assert connector.calendar("alice/home").path == "/dav/alice/home/"
    assert connector.calendar("https://dav.example.org/dav/bob/x/").path == "/dav/bob/x/"
    assert connector.calendar("/dav/alice/%2e/work").path == "/dav/alice/work/"
    assert connector.calendar("/dav/a/").href_for("b 1/2") == "/dav/a/b%201%2F2.ics"


@pytest.mark.parametrize("calendar_id", [
    "https://other.example.org/dav/x/", "http://dav.example.org/dav/x/",
    "https://dav.example.org:8443/dav/x/", "//other.example.org/dav/x/", "/alice/work/",
    "/dav/../alice/", "/dav/%2e%2e/alice/", "../x/", "/dav/", "/dav/a\\b/",
])
def test_calendar_ids_outside_the_account_are_refused(calendar_id: str) -> None:
    connector = build(settings(username=None))
    assert connector.calendar_id_problem(calendar_id) is not None
    assert connector.calendar(calendar_id).refused is not None


def test_missing_password_variable_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCD_TEST_DAV_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match=r"password_env.*SYNCD_TEST_DAV_PASSWORD"):
        build(settings(password_env="SYNCD_TEST_DAV_PASSWORD"))


def test_missing_password_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="password_file"):
        build(settings(password_file=str(tmp_path / "absent")))


async def test_password_file_is_read_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    connector = build(settings(password_file=str(secret)))
    assert connector.calendar("/a/").calendar_id == "/a/"
    await connector.aclose()


def test_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_file"):
        build(settings(username=None, ca_file=str(tmp_path / "absent.pem")))


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "ftp://dav.example.org/"},
        {"url": "https://alice:hunter2@dav.example.org/"},
        {"password_env": "A", "password_file": "/b"},
        {"password_env": None},  # a username without a password
        {"username": None, "password_env": "A"},
        {"concurrency_per_calendar": 0},
        {"concurrency_per_calendar": 65},
        {"timeout_seconds": 0},
        {"colour": "red"},
    ],
)
def test_invalid_settings_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings.model_validate(BASE | {"password_env": "X"} | changes)

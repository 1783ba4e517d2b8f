"""A merchant with staff on a fresh store (SQLite and PostgreSQL), the admin API over it,
and mail going to an SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.api import create_app
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.sealing import new_key
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.dbs import database_url
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import FAST_MAIL, smtp_mail

__all__ = ["database_url"]

M = "/api/v1/merchants/m1"
SECRET = "a-manage-secret-for-connect-tests-0123456"
ENCRYPTION_KEY = new_key()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def settings(database_url: str, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SYNCD_TEST_CONNECT_SECRET", SECRET)
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", ENCRYPTION_KEY)
    return Settings.model_validate({
        "database": {"url": database_url},
        "mail": FAST_MAIL | smtp_mail(sink.port),
        "manage": {"public_url": "http://testserver/",
                   "secret_env": "SYNCD_TEST_CONNECT_SECRET"},
        "connectors": {"local": {"kind": "memory"}},
        "connect": {"allow_private_addresses": True},  # the test servers are on 127.0.0.1
    })


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def api(runtime: Runtime) -> Iterator[ApiClient]:
    """The admin API, with Salon One and its staff: alice (with an address) and bob (none)."""
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        assert client.put(M, json={"name": "Salon One",
                                   "timezone": "Europe/Berlin"}).status_code == 201
        client.put(f"{M}/staff/alice", json={"name": "Alice", "timezone": "Europe/Berlin",
                                             "email": "alice@salon.example"})
        client.put(f"{M}/staff/bob", json={"name": "Bob", "timezone": "Europe/Berlin"})
        yield client

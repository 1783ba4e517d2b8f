"""One calendar is bound once, whichever account or connector reaches it: bound twice, every
booking would be written to it twice (and each copy would look foreign to the other's
reconcile). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.api import create_app
from syncd.config import Settings, load_config
from syncd.runtime import Runtime
from syncd.store.catalog import CALENDAR_BOUND_ELSEWHERE
from syncd.store.schema import upgrade
from syncd.store.sealing import new_key
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH, MERCHANT

ALICE = f"{MERCHANT}/staff/alice/calendars"
BOB = f"{MERCHANT}/staff/bob/calendars"


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", new_key())
    monkeypatch.setenv("OFFICE_DAV_PASSWORD", "office-secret")
    return load_config(None, environ={
        "SYNCD_DATABASE__URL": database_url,
        "SYNCD_CONNECTORS__OFFICE__KIND": "caldav",
        "SYNCD_CONNECTORS__OFFICE__URL": "https://DAV.example:443/dav",
        "SYNCD_CONNECTORS__OFFICE__USERNAME": "office",
        "SYNCD_CONNECTORS__OFFICE__PASSWORD_ENV": "OFFICE_DAV_PASSWORD",
    })


@pytest.fixture
def shop(settings: Settings) -> Iterator[ApiClient]:
    runtime: Runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        assert client.put(MERCHANT, json={"name": "One", "timezone": "UTC"}).status_code == 201
        for staff in ("alice", "bob"):
            body = {"name": staff, "timezone": "UTC"}
            assert client.put(f"{MERCHANT}/staff/{staff}", json=body).status_code == 201
        account = {"kind": "caldav", "settings": {"url": "https://dav.example/dav/",
                   "username": "alice"}, "credential": {"password": "alice-secret"}}
        assert client.put(f"{MERCHANT}/accounts/alice", json=account).status_code == 201
        yield client
    runtime.close()


def test_a_calendar_bound_through_a_connector_is_refused_through_an_account(
    shop: ApiClient,
) -> None:
    office = {"connector": "office", "calendar_id": "/dav/alice/work/"}
    assert shop.put(f"{ALICE}/office", json=office).status_code == 201
    same = {"account": "alice", "calendar_id": "https://dav.example/dav/%61lice/work"}
    refused = shop.put(f"{BOB}/own", json=same)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == CALENDAR_BOUND_ELSEWHERE
    assert shop.get(f"{BOB}/own").status_code == 404
    other = {"account": "alice", "calendar_id": "/dav/alice/home/"}
    assert shop.put(f"{ALICE}/own", json=other).status_code == 201


def test_a_stopped_binding_lets_the_calendar_go_and_cannot_take_it_back(
    shop: ApiClient,
) -> None:
    office = {"connector": "office", "calendar_id": "alice/work/"}
    assert shop.put(f"{ALICE}/office", json=office).status_code == 201
    assert shop.put(f"{ALICE}/office", json=office | {"active": False}).status_code == 200
    own = {"account": "alice", "calendar_id": "/dav/alice/work/"}
    assert shop.put(f"{ALICE}/own", json=own).status_code == 201
    again = shop.put(f"{ALICE}/office", json=office | {"active": True})
    assert again.status_code == 409, again.text
    assert shop.get(f"{ALICE}/office").json()["active"] is False
    assert shop.put(f"{ALICE}/own", json=own).status_code == 200  # storing it again is fine

"""Stored calendar accounts through the API: validated by their kind, the credential sealed
and never answered back, bound by key, removed only once nothing uses them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from syncd.account_changes import bind_calendar, store_account
from syncd.runtime import Runtime
from syncd.schemas import AccountIn, BindingIn, PasswordIn
from syncd.store.sealing import new_key
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT

PASSWORD = "s3cret-app-password"
ACCOUNT = f"{MERCHANT}/accounts/alice-dav"
SETTINGS = {"url": "https://dav.example/", "username": "alice"}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", new_key())


def put_account(shop: ApiClient, **changes: object) -> dict[str, object]:
    body = {"kind": "caldav", "settings": SETTINGS, "credential": {"password": PASSWORD},
            "staff": "alice"} | changes
    response = shop.put(ACCOUNT, json=body)
    assert response.status_code in (200, 201), response.text
    assert PASSWORD not in response.text
    answer: dict[str, object] = response.json()
    return answer


def test_an_account_is_stored_without_showing_its_password(
    shop: ApiClient, runtime: Runtime
) -> None:
    answer = put_account(shop)
    assert answer["has_credential"] is True
    assert answer["settings"] == {"kind": "caldav"} | SETTINGS
    assert (answer["staff"], answer["state"], answer["version"]) == ("alice", "ok", 1)
    assert shop.get(ACCOUNT).json() == answer
    listing = shop.get(f"{MERCHANT}/accounts").json()
    assert listing == {"items": [answer], "next_cursor": None}
    with runtime.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM connector_accounts")).all()
    assert PASSWORD not in repr(stored)
    assert put_account(shop, credential={"password": "another"})["version"] == 2


def test_what_the_kind_refuses_is_named(shop: ApiClient) -> None:
    cases = [
        ({"settings": {"url": "ftp://dav.example/"}}, "settings.url"),
        ({"kind": "nosuchkind"}, "kind"),
        ({"settings": SETTINGS | {"password_env": "X"}}, "settings"),
        ({"credential": None}, "credential"),  # a username and no password
        ({"staff": "nobody"}, "staff"),
    ]
    for changes, field in cases:
        body = {"kind": "caldav", "settings": SETTINGS, "credential": {"password": PASSWORD},
                "staff": "alice"} | changes
        response = shop.put(ACCOUNT, json=body)
        assert response.status_code == 422, (changes, response.text)
        assert any(f.startswith(field) for f in response.json()["error"]["fields"]), changes
    assert shop.get(ACCOUNT).status_code == 404


def test_without_encryption_keys_a_credential_is_refused(
    shop: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_ENCRYPTION_KEYS")
    response = shop.put(ACCOUNT, json={"kind": "caldav", "settings": SETTINGS,
                                       "credential": {"password": PASSWORD}})
    assert response.status_code == 409
    assert "SYNCD_ENCRYPTION_KEYS" in response.json()["error"]["message"]
    assert PASSWORD not in response.text


def test_a_calendar_of_the_account_is_bound_by_its_key_and_the_account_removed_after(
    shop: ApiClient,
) -> None:
    put_account(shop)
    calendars = f"{MERCHANT}/staff/alice/calendars"
    refused = [
        {"account": "alice-dav", "connector": "local", "calendar_id": "/alice/work/"},
        {"calendar_id": "/alice/work/"},
        {"account": "nobody", "calendar_id": "/alice/work/"},
        {"account": "alice-dav", "calendar_id": "https://elsewhere.example/alice/work/"},
    ]
    for body in refused:
        assert shop.put(f"{calendars}/dav", json=body).status_code == 422, body
    bound = shop.put(f"{calendars}/dav", json={"account": "alice-dav",
                                               "calendar_id": "/alice/work/"})
    assert bound.status_code == 201, bound.text
    assert bound.json()["account"] == "alice-dav"
    assert bound.json()["connector"].startswith("account.")
    assert shop.get(ACCOUNT).json()["active_bindings"] == 1
    assert shop.delete(ACCOUNT).status_code == 409
    body = {"account": "alice-dav", "calendar_id": "/alice/work/", "active": False}
    assert shop.put(f"{calendars}/dav", json=body).status_code == 200
    assert shop.delete(ACCOUNT).status_code == 204
    assert shop.get(ACCOUNT).status_code == 404
    assert shop.get(f"{calendars}/dav").json()["account"] is None


def test_the_connect_page_stores_and_binds_through_the_same_functions(
    shop: ApiClient, runtime: Runtime
) -> None:
    data = AccountIn(kind="caldav", settings=SETTINGS, credential=PasswordIn(password=PASSWORD))
    answer, created = shop.call(lambda: store_account(runtime, "m1", "bob-dav", data))
    assert created
    assert answer["has_credential"] is True
    bound = BindingIn(account="bob-dav", calendar_id="/alice/bob/")
    binding, created = shop.call(lambda: bind_calendar(runtime, "m1", "bob", "dav", bound))
    assert created
    assert binding.connector == answer_connector(shop)


def answer_connector(shop: ApiClient) -> str:
    found: str = shop.get(f"{MERCHANT}/staff/bob/calendars/dav").json()["connector"]
    assert found.startswith("account.")
    return found

"""Merchants, services, staff and calendar bindings over the API."""

from __future__ import annotations

from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, put_booking, snapshot


def test_merchant_is_created_then_updated_then_read(client: ApiClient) -> None:
    body = {"name": "Salon One", "timezone": "Europe/Berlin"}
    assert client.put(MERCHANT, json=body).status_code == 201
    updated = client.put(MERCHANT, json=body | {"contact_text": "Call us"})
    assert updated.status_code == 200
    assert client.get(MERCHANT).json() == {
        "key": "m1", "name": "Salon One", "timezone": "Europe/Berlin",
        "contact_text": "Call us", "booking_page_url": None, "reconcile_rule": "booking_wins",
    }


def test_service_and_staff_are_read_back(shop: ApiClient) -> None:
    service = shop.get(f"{MERCHANT}/services/color").json()
    assert service["requires_approval"] is True
    assert service["duration_minutes"] == 90
    staff = shop.get(f"{MERCHANT}/staff/alice").json()
    assert (staff["key"], staff["timezone"]) == ("alice", "Europe/Berlin")


def test_putting_a_service_again_updates_it(shop: ApiClient) -> None:
    body = {"name": "Haircut", "duration_minutes": 45}
    assert shop.put(f"{MERCHANT}/services/cut", json=body).status_code == 200
    assert shop.get(f"{MERCHANT}/services/cut").json()["duration_minutes"] == 45


def test_binding_shows_its_state(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    binding = shop.get(f"{MERCHANT}/staff/alice/calendars/work").json()
    assert binding == {
        "key": "work", "connector": "local", "account": None, "calendar_id": "alice-work",
        "active": True, "state": "ok", "paused_until": None, "last_error": None,
        "consecutive_failures": 0, "pending_mirrors": 1, "dead_mirrors": 0,
    }


def test_bindings_of_a_staff_member_are_listed(shop: ApiClient) -> None:
    listing = shop.get(f"{MERCHANT}/staff/alice/calendars").json()
    assert [binding["key"] for binding in listing["items"]] == ["home", "work"]


def test_binding_to_an_unknown_connector_is_refused(shop: ApiClient, runtime: Runtime) -> None:
    before = snapshot(runtime.engine)
    body = {"connector": "nowhere", "calendar_id": "x"}
    response = shop.put(f"{MERCHANT}/staff/alice/calendars/other", json=body)
    assert response.status_code == 422
    assert "connector" in response.json()["error"]["fields"]
    assert snapshot(runtime.engine) == before


def test_a_bindings_calendar_cannot_change(shop: ApiClient, runtime: Runtime) -> None:
    before = snapshot(runtime.engine)
    body = {"connector": "local", "calendar_id": "elsewhere"}
    response = shop.put(f"{MERCHANT}/staff/alice/calendars/work", json=body)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert snapshot(runtime.engine) == before


def test_a_calendar_cannot_be_bound_twice(shop: ApiClient) -> None:
    body = {"connector": "local", "calendar_id": "alice-work"}
    assert shop.put(f"{MERCHANT}/staff/bob/calendars/second", json=body).status_code == 409


def test_unknown_rows_are_not_found(shop: ApiClient) -> None:
    for path in ("/api/v1/merchants/nobody", f"{MERCHANT}/services/none",
                 f"{MERCHANT}/staff/nobody", f"{MERCHANT}/staff/alice/calendars/none",
                 f"{MERCHANT}/staff/nobody/calendars"):
        response = shop.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_keys_outside_the_key_pattern_are_not_found(client: ApiClient) -> None:
    body = {"name": "Salon", "timezone": "UTC"}
    for key in ("bad%20key", "a" * 129, "caf%C3%A9", "semi%3Bcolon"):
        response = client.put(f"/api/v1/merchants/{key}", json=body)
        assert response.status_code == 404, key
    assert client.put("/api/v1/merchants/Ok.key_1:2~3-4", json=body).status_code == 201


def test_a_wrong_method_is_refused_with_the_allowed_ones(client: ApiClient) -> None:
    response = client.delete(MERCHANT)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT"}


def test_an_unknown_path_is_not_found(client: ApiClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

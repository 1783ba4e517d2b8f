"""The admin API's side of self-service: service settings, who delivers a service, the
per-booking choice, and revoking a booking's links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncd.api import create_app
from syncd.manage.tokens import find_booking
from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.manage.shop import NOW

M = "/api/v1/merchants/m1"
START = "2030-03-06T10:00:00+01:00"


@pytest.fixture
def client(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiClient]:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        assert client.put(M, json={"name": "Salon", "timezone": "Europe/Berlin"}).status_code == 201
        for staff in ("alice", "bob"):
            client.put(f"{M}/staff/{staff}", json={"name": staff.title(),
                                                   "timezone": "Europe/Berlin"})
        yield client


def booking(**changes: Any) -> dict[str, Any]:
    return {"service": "cut", "staff": "alice", "start": START,
            "customer": {"name": "Jane", "email": "jane@example.com",
                         "timezone": "Europe/Berlin"}} | changes


def test_service_manage_settings_and_staff_round_trip(client: ApiClient) -> None:
    body = {"name": "Cut", "duration_minutes": 30, "allow_change_staff": True,
            "manage_cutoff_hours": 12, "staff": ["bob", "alice"], "max_advance_days": 30}
    created = client.put(f"{M}/services/cut", json=body)
    assert created.status_code == 201, created.text
    shown = client.get(f"{M}/services/cut").json()
    assert shown["staff"] == ["alice", "bob"]
    assert (shown["manage_web_bookings"], shown["manage_staff_bookings"]) == (False, False)
    assert (shown["allow_change_staff"], shown["manage_cutoff_hours"]) == (True, 12)
    assert (shown["slot_interval_minutes"], shown["min_lead_minutes"]) == (15, 60)
    client.put(f"{M}/services/cut", json=body | {"staff": []})
    assert client.get(f"{M}/services/cut").json()["staff"] == []


def test_bad_manage_settings_name_every_field(client: ApiClient) -> None:
    body = {"name": "Cut", "duration_minutes": 30, "staff": ["alice", "alice"],
            "manage_cutoff_hours": -1, "slot_interval_minutes": 0}
    response = client.put(f"{M}/services/cut", json=body)
    assert response.status_code == 422
    assert {"staff", "manage_cutoff_hours", "slot_interval_minutes"} <= set(
        response.json()["error"]["fields"])
    unknown = client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30,
                                                    "staff": ["alice", "nobody"]})
    assert unknown.status_code == 422
    assert "staff.1" in unknown.json()["error"]["fields"]


def test_the_per_booking_choice_is_for_staff_made_bookings(client: ApiClient) -> None:
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30})
    web = client.put(f"{M}/bookings/b1", json=booking(self_manage=True))
    assert web.status_code == 422
    assert "self_manage" in web.json()["error"]["fields"]
    made = client.put(f"{M}/bookings/b2", json=booking(origin="staff", self_manage=True))
    assert made.status_code == 201
    assert made.json()["manage_rules"]["enabled"] is True
    default = client.put(f"{M}/bookings/b3", json=booking(origin="staff"))
    assert default.json()["manage_rules"]["enabled"] is False
    changed = client.put(f"{M}/bookings/b2", json=booking(origin="staff", self_manage=False))
    assert changed.status_code == 422
    repeated = client.put(f"{M}/bookings/b2", json=booking(origin="staff", self_manage=True))
    assert repeated.status_code == 200


def test_links_are_issued_and_revoked(client: ApiClient, runtime: Runtime) -> None:
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30,
                                          "manage_web_bookings": True})
    client.put(f"{M}/bookings/b1", json=booking())
    issued = client.post(f"{M}/bookings/b1/manage-links")
    assert issued.status_code == 201
    token = issued.json()["url"].rsplit("/", 1)[1]
    with runtime.sessions.begin() as session:
        assert find_booking(session, token, NOW) is not None
    revoked = client.delete(f"{M}/bookings/b1/manage-links")
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] == 2
    with runtime.sessions.begin() as session:
        assert find_booking(session, token, NOW) is None
    client.put(f"{M}/bookings/b2", json=booking(origin="staff"))
    assert client.post(f"{M}/bookings/b2/manage-links").status_code == 409
    assert client.delete(f"{M}/bookings/nope/manage-links").status_code == 404


def test_self_service_is_off_until_the_merchant_turns_it_on(client: ApiClient) -> None:
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30})
    assert client.get(f"{M}/services/cut").json()["manage_web_bookings"] is False
    made = client.put(f"{M}/bookings/b1", json=booking())
    assert made.json()["manage_rules"]["enabled"] is False
    assert client.post(f"{M}/bookings/b1/manage-links").status_code == 409


def test_a_service_update_keeps_what_it_leaves_out(client: ApiClient) -> None:
    client.put(f"{M}/services/cut", json={
        "name": "Cut", "duration_minutes": 30, "manage_web_bookings": True,
        "manage_cutoff_hours": 6, "staff": ["alice"]})
    renamed = client.put(f"{M}/services/cut", json={"name": "Haircut", "duration_minutes": 30})
    assert renamed.status_code == 200, renamed.text
    shown = client.get(f"{M}/services/cut").json()
    assert shown["name"] == "Haircut"
    assert (shown["manage_web_bookings"], shown["manage_cutoff_hours"]) == (True, 6)
    assert shown["staff"] == ["alice"]
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30,
                                          "manage_web_bookings": False})
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 45})
    assert client.get(f"{M}/services/cut").json()["manage_web_bookings"] is False


def test_a_staff_made_booking_carries_its_own_cutoff_and_actions(client: ApiClient) -> None:
    client.put(f"{M}/services/cut", json={"name": "Cut", "duration_minutes": 30,
                                          "manage_cutoff_hours": 24})
    own = {"origin": "staff", "self_manage": True, "manage_cutoff_hours": 2,
           "manage_actions": ["cancel"]}
    made = client.put(f"{M}/bookings/b1", json=booking(**own))
    assert made.status_code == 201, made.text
    rules = made.json()["manage_rules"]
    assert (rules["enabled"], rules["cutoff_hours"], rules["booking_cutoff_hours"]) == (
        True, 2, 2)
    assert (rules["cancel"], rules["reschedule"], rules["booking_actions"]) == (
        True, False, ["cancel"])
    assert client.get(f"{M}/bookings/b1").json()["manage_rules"] == rules
    later = client.put(f"{M}/bookings/b1", json=booking(**own | {"manage_cutoff_hours": 5}))
    assert later.status_code == 422
    assert "manage_cutoff_hours" in later.json()["error"]["fields"]
    assert client.put(f"{M}/bookings/b1", json=booking(**own)).status_code == 200
    web = client.put(f"{M}/bookings/b2", json=booking(manage_cutoff_hours=2))
    assert web.status_code == 422
    assert "manage_cutoff_hours" in web.json()["error"]["fields"]

"""Mirrors follow bookings and bindings; dead letters are listed and retried."""

from __future__ import annotations

from sqlalchemy import update

from syncd.runtime import Runtime
from syncd.store.models import Mirror
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, mirrors_by_binding, put_booking

MIRRORS = "/api/v1/mirrors"


def _kill_mirror(runtime: Runtime, mirror_id: int) -> None:
    with runtime.sessions.begin() as session:
        session.execute(
            update(Mirror).where(Mirror.id == mirror_id)
            .values(dead=True, attempts=15, last_error="server said no")
        )


def test_a_booking_gets_a_pending_mirror_per_active_binding(shop: ApiClient) -> None:
    booking = put_booking(shop, "b1")
    mirrors = mirrors_by_binding(booking)
    assert set(mirrors) == {("alice", "work"), ("alice", "home")}
    for mirror in mirrors.values():
        assert (mirror["desired"], mirror["actual"]) == ("present", "absent")
        assert (mirror["pending"], mirror["dead"], mirror["attempts"]) == (True, False, 0)
        assert mirror["next_attempt_at"].endswith("+00:00")


def test_the_booking_read_back_shows_its_mirrors(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    booking = shop.get(f"{MERCHANT}/bookings/b1").json()
    assert len(booking["mirrors"]) == 2
    assert {m["remote_id"] for m in booking["mirrors"]} == {None}


def test_changing_staff_moves_the_mirrors(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    moved = mirrors_by_binding(put_booking(shop, "b1", staff="bob"))
    assert moved[("alice", "work")]["desired"] == "absent"
    assert moved[("alice", "home")]["desired"] == "absent"
    assert moved[("bob", "work")]["desired"] == "present"
    assert moved[("bob", "work")]["pending"] is True


def test_cancelling_makes_every_mirror_desired_absent(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    cancelled = shop.post(f"{MERCHANT}/bookings/b1/cancel").json()
    assert {m["desired"] for m in cancelled["mirrors"]} == {"absent"}


def test_deactivating_a_binding_makes_its_mirrors_desired_absent(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    body = {"connector": "local", "calendar_id": "alice-home", "active": False}
    binding = shop.put(f"{MERCHANT}/staff/alice/calendars/home", json=body)
    assert binding.status_code == 200
    assert binding.json()["active"] is False
    mirrors = mirrors_by_binding(shop.get(f"{MERCHANT}/bookings/b1").json())
    assert mirrors[("alice", "home")]["desired"] == "absent"
    assert mirrors[("alice", "work")]["desired"] == "present"


def test_a_new_binding_picks_up_existing_bookings(shop: ApiClient) -> None:
    put_booking(shop, "b1", staff="bob")
    body = {"connector": "local", "calendar_id": "bob-home"}
    assert shop.put(f"{MERCHANT}/staff/bob/calendars/home", json=body).status_code == 201
    mirrors = mirrors_by_binding(shop.get(f"{MERCHANT}/bookings/b1").json())
    assert mirrors[("bob", "home")]["desired"] == "present"


def test_pending_and_dead_mirrors_are_listed_across_merchants(
    shop: ApiClient, runtime: Runtime
) -> None:
    booking = put_booking(shop, "b1")
    dead_id = booking["mirrors"][0]["id"]
    _kill_mirror(runtime, dead_id)
    dead = shop.get(MIRRORS, params={"state": "dead"}).json()["items"]
    assert [(m["id"], m["merchant"], m["booking"]) for m in dead] == [(dead_id, "m1", "b1")]
    assert dead[0]["last_error"] == "server said no"
    pending = shop.get(MIRRORS, params={"state": "pending"}).json()["items"]
    assert [m["id"] for m in pending] == [booking["mirrors"][1]["id"]]
    assert len(shop.get(MIRRORS).json()["items"]) == 2


def test_the_binding_counts_its_dead_and_pending_mirrors(
    shop: ApiClient, runtime: Runtime
) -> None:
    first = put_booking(shop, "b1")
    put_booking(shop, "b2", start="2026-12-01T12:00:00+01:00")
    _kill_mirror(runtime, mirrors_by_binding(first)[("alice", "work")]["id"])
    binding = shop.get(f"{MERCHANT}/staff/alice/calendars/work").json()
    assert (binding["pending_mirrors"], binding["dead_mirrors"]) == (1, 1)


def test_mirrors_are_listed_page_by_page(shop: ApiClient) -> None:
    for number in range(3):
        put_booking(shop, f"b{number}")
    first = shop.get(MIRRORS, params={"state": "pending", "limit": 4}).json()
    assert len(first["items"]) == 4
    rest = shop.get(MIRRORS, params={"state": "pending", "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None


def test_a_dead_mirror_is_retried(shop: ApiClient, runtime: Runtime) -> None:
    mirror_id = put_booking(shop, "b1")["mirrors"][0]["id"]
    _kill_mirror(runtime, mirror_id)
    response = shop.post(f"{MIRRORS}/{mirror_id}/retry")
    assert response.status_code == 200
    retried = response.json()
    assert (retried["dead"], retried["pending"], retried["attempts"]) == (False, True, 0)
    assert shop.get(MIRRORS, params={"state": "dead"}).json()["items"] == []


def test_retrying_an_unknown_mirror_is_not_found(shop: ApiClient) -> None:
    for mirror_id in ("999999", "99999999999999999999999", "abc"):
        assert shop.post(f"{MIRRORS}/{mirror_id}/retry").status_code == 404


def test_a_bad_mirror_state_is_named(shop: ApiClient) -> None:
    response = shop.get(MIRRORS, params={"state": "zombie"})
    assert response.status_code == 422
    assert "state" in response.json()["error"]["fields"]

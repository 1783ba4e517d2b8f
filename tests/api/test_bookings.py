"""Bookings: idempotent create and update by the platform's id, cancel, clone, read, list."""

from __future__ import annotations

from sqlalchemy import func, select

from syncd.runtime import Runtime
from syncd.store.models import Booking
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, booking_body, put_booking, snapshot

BOOKINGS = f"{MERCHANT}/bookings"


def _count_bookings(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Booking)) or 0)


def test_a_new_booking_is_created_and_shown_in_utc(shop: ApiClient) -> None:
    response = shop.put(f"{BOOKINGS}/b1", json=booking_body(notes="window seat"))
    assert response.status_code == 201
    booking = response.json()
    assert {k: booking[k] for k in ("key", "merchant", "origin", "service", "staff")} == {
        "key": "b1", "merchant": "m1", "origin": "web", "service": "cut", "staff": "alice",
    }
    assert (booking["start"], booking["end"]) == (
        "2026-12-01T09:00:00+00:00", "2026-12-01T09:30:00+00:00",
    )
    assert booking["customer"] == booking_body()["customer"]
    assert (booking["status"], booking["version"], booking["sequence"]) == ("confirmed", 1, 0)
    assert (booking["notes"], booking["cloned_from"]) == ("window seat", None)
    assert booking["created_at"].endswith("+00:00")


def test_putting_the_same_booking_twice_changes_nothing(
    shop: ApiClient, runtime: Runtime
) -> None:
    first = put_booking(shop, "b1")
    again = shop.put(f"{BOOKINGS}/b1", json=booking_body())
    assert again.status_code == 200
    assert again.json()["version"] == first["version"] == 1
    assert again.json()["updated_at"] == first["updated_at"]
    assert _count_bookings(runtime) == 1


def test_moving_a_booking_bumps_version_and_sequence(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    moved = put_booking(shop, "b1", start="2026-12-02T10:00:00+01:00")
    assert (moved["version"], moved["sequence"]) == (2, 1)
    assert moved["start"] == "2026-12-02T09:00:00+00:00"


def test_changing_only_the_notes_keeps_the_sequence(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    noted = put_booking(shop, "b1", notes="bring the voucher")
    assert (noted["version"], noted["sequence"]) == (2, 0)


def test_an_explicit_end_is_kept(shop: ApiClient) -> None:
    booking = put_booking(shop, "b1", end="2026-12-01T11:15:00+01:00")
    assert booking["end"] == "2026-12-01T10:15:00+00:00"


def test_cancelling_twice_is_fine(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    first = shop.post(f"{BOOKINGS}/b1/cancel")
    second = shop.post(f"{BOOKINGS}/b1/cancel")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert first.json()["version"] == second.json()["version"] == 2


def test_a_cancelled_booking_cannot_be_updated(shop: ApiClient, runtime: Runtime) -> None:
    put_booking(shop, "b1")
    shop.post(f"{BOOKINGS}/b1/cancel")
    before = snapshot(runtime.engine)
    response = shop.put(f"{BOOKINGS}/b1", json=booking_body(notes="again"))
    assert response.status_code == 409
    assert "clone" in response.json()["error"]["message"]
    assert snapshot(runtime.engine) == before


def test_a_cancelled_booking_is_cloned_into_a_new_one(shop: ApiClient) -> None:
    put_booking(shop, "b1", origin="staff")
    shop.post(f"{BOOKINGS}/b1/cancel")
    clone = shop.post(f"{BOOKINGS}/b1/clone", json={"key": "b2", "staff": "bob"})
    assert clone.status_code == 201
    body = clone.json()
    assert (body["key"], body["cloned_from"], body["staff"]) == ("b2", "b1", "bob")
    assert (body["status"], body["origin"], body["version"]) == ("confirmed", "staff", 1)
    assert body["customer"]["name"] == "Jane Customer"
    assert shop.get(f"{BOOKINGS}/b1").json()["status"] == "cancelled"


def test_repeating_a_clone_returns_the_same_booking(shop: ApiClient, runtime: Runtime) -> None:
    put_booking(shop, "b1")
    shop.post(f"{BOOKINGS}/b1/cancel")
    first = shop.post(f"{BOOKINGS}/b1/clone", json={"key": "b2"})
    again = shop.post(f"{BOOKINGS}/b1/clone", json={"key": "b2"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["version"] == first.json()["version"]
    assert _count_bookings(runtime) == 2


def test_a_clone_follows_the_services_approval_rule(shop: ApiClient) -> None:
    put_booking(shop, "b1", service="color", status="confirmed")
    shop.post(f"{BOOKINGS}/b1/cancel")
    clone = shop.post(f"{BOOKINGS}/b1/clone", json={
        "key": "b2", "start": "2026-12-03T09:00:00+00:00",
    })
    assert clone.json()["status"] == "pending"
    assert clone.json()["end"] == "2026-12-03T10:30:00+00:00"


def test_a_live_booking_cannot_be_cloned(shop: ApiClient, runtime: Runtime) -> None:
    put_booking(shop, "b1")
    before = snapshot(runtime.engine)
    response = shop.post(f"{BOOKINGS}/b1/clone", json={"key": "b2"})
    assert response.status_code == 409
    assert snapshot(runtime.engine) == before


def test_admin_made_and_web_bookings_are_both_accepted(shop: ApiClient) -> None:
    assert put_booking(shop, "web1")["origin"] == "web"
    assert put_booking(shop, "admin1", origin="staff")["origin"] == "staff"


def test_a_service_needing_approval_starts_pending_and_stays_so(shop: ApiClient) -> None:
    assert put_booking(shop, "b1", service="color")["status"] == "pending"
    assert put_booking(shop, "b1", service="color", notes="x")["status"] == "pending"
    approved = put_booking(shop, "b1", service="color", notes="x", status="confirmed")
    assert approved["status"] == "confirmed"
    assert put_booking(shop, "b1", service="color", notes="y")["status"] == "confirmed"


def test_unknown_and_foreign_bookings_are_not_found(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    shop.put("/api/v1/merchants/m2", json={"name": "Other", "timezone": "UTC"})
    assert shop.get(f"{BOOKINGS}/nope").status_code == 404
    assert shop.get("/api/v1/merchants/m2/bookings/b1").status_code == 404
    assert shop.post(f"{BOOKINGS}/nope/cancel").status_code == 404
    assert shop.post(f"{BOOKINGS}/nope/clone", json={"key": "b9"}).status_code == 404


def test_bookings_are_listed_page_by_page(shop: ApiClient) -> None:
    for number in range(5):
        put_booking(shop, f"b{number}")
    keys, cursor = [], ""
    while cursor is not None:
        page = shop.get(BOOKINGS, params={"limit": 2, "cursor": cursor or 0}).json()
        keys += [booking["key"] for booking in page["items"]]
        cursor = page["next_cursor"]
    assert keys == ["b0", "b1", "b2", "b3", "b4"]


def test_bookings_are_filtered_by_status_and_staff(shop: ApiClient) -> None:
    put_booking(shop, "b1")
    put_booking(shop, "b2", staff="bob")
    put_booking(shop, "b3", service="color")
    shop.post(f"{BOOKINGS}/b1/cancel")

    def keys(**params: str) -> list[str]:
        return [b["key"] for b in shop.get(BOOKINGS, params=params).json()["items"]]

    assert keys(status="cancelled") == ["b1"]
    assert keys(status="pending") == ["b3"]
    assert keys(staff="bob") == ["b2"]
    assert keys(staff="alice", status="pending") == ["b3"]


def test_bad_listing_parameters_are_named(shop: ApiClient) -> None:
    response = shop.get(BOOKINGS, params={"limit": 0, "status": "lost", "cursor": "x"})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"limit", "status", "cursor"}
    unknown_staff = shop.get(BOOKINGS, params={"staff": "nobody"})
    assert unknown_staff.status_code == 422
    assert "staff" in unknown_staff.json()["error"]["fields"]

"""Bookings are accepted only from 1970-01-01 up to 2200-01-01 (UTC): a time outside gets
422 naming the field, never a 500 or a booking that pauses its staff calendar."""

from __future__ import annotations

import pytest

from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, booking_body, put_booking, snapshot

BOOKINGS = f"{MERCHANT}/bookings"
OUTSIDE = ["9999-06-01T10:00:00+00:00", "0001-01-01T00:30+01:00", "9999-12-31T23:50Z",
           "2200-01-01T00:00Z", "1969-12-31T23:59:59Z"]


@pytest.mark.parametrize("start", OUTSIDE)
def test_a_booking_outside_the_range_is_refused(
    shop: ApiClient, runtime: Runtime, start: str
) -> None:
    before = snapshot(runtime.engine)
    response = shop.put(f"{BOOKINGS}/b1", json=booking_body(start=start))
    assert response.status_code == 422, response.text
    assert "start" in response.json()["error"]["fields"]
    assert snapshot(runtime.engine) == before


def test_an_end_or_a_clone_outside_the_range_is_refused(shop: ApiClient) -> None:
    body = booking_body(start="2199-12-31T23:00Z", end="9999-12-31T23:59Z")
    assert shop.put(f"{BOOKINGS}/b1", json=body).status_code == 422
    put_booking(shop, "b2")
    assert shop.post(f"{BOOKINGS}/b2/cancel", json={}).status_code in (200, 202)
    clone = shop.post(f"{BOOKINGS}/b2/clone", json={"key": "b3", "start": "9999-06-01T10:00Z"})
    assert clone.status_code == 422


def test_the_edges_of_the_range_are_accepted(shop: ApiClient) -> None:
    put_booking(shop, "early", start="1970-01-01T00:00Z")
    put_booking(shop, "late", start="2199-12-31T23:00Z")

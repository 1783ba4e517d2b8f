"""Regressions for what schemathesis found against the live API (test_openapi_live.py)."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.api.handling import MAX_CURSOR
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT

PAGED = [
    f"{MERCHANT}/bookings",
    f"{MERCHANT}/conflicts",
    f"{MERCHANT}/conflicts?status=resolved",
    f"{MERCHANT}/ratings",
    f"{MERCHANT}/webhooks/w1/deliveries",
    "/api/v1/mirrors",
    "/api/v1/outbox",
]
BY_ID: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", f"{MERCHANT}/conflicts/{{id}}", None),
    ("POST", f"{MERCHANT}/conflicts/{{id}}/resolve", {"rule": "dismiss"}),
    ("POST", "/api/v1/mirrors/{id}/retry", None),
    ("POST", "/api/v1/outbox/{id}/retry", None),
    ("POST", f"{MERCHANT}/webhooks/w1/deliveries/{{id}}/redeliver", None),
]
# past PostgreSQL's integer keys (2**31 - 1), the first schemathesis sent, the largest cursor
BEYOND_IDS = [2**31, 4397327377, MAX_CURSOR]


@pytest.fixture
def subscribed(shop: ApiClient) -> ApiClient:
    response = shop.put(f"{MERCHANT}/webhooks/w1", json={
        "url": "https://hooks.example.com/syncd", "events": ["booking.created"]})
    assert response.status_code == 201, response.text
    return shop


@pytest.mark.parametrize("cursor", BEYOND_IDS)
@pytest.mark.parametrize("listing", PAGED)
def test_a_cursor_beyond_any_stored_id_is_an_empty_page(
    subscribed: ApiClient, listing: str, cursor: int
) -> None:
    """Compared with PostgreSQL's 32-bit ids, such a cursor failed the query (500)."""
    separator = "&" if "?" in listing else "?"
    response = subscribed.get(f"{listing}{separator}cursor={cursor}")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items == [] or listing.endswith("/ratings")  # ratings: those *before* the cursor


def test_a_cursor_past_the_largest_is_refused(shop: ApiClient) -> None:
    response = shop.get(f"{MERCHANT}/bookings?cursor={MAX_CURSOR + 1}")
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"cursor"}


@pytest.mark.parametrize("number", [*BEYOND_IDS, MAX_CURSOR + 1])
@pytest.mark.parametrize(("method", "path", "body"), BY_ID)
def test_an_id_beyond_any_stored_one_names_nothing(
    subscribed: ApiClient, method: str, path: str, body: dict[str, Any] | None, number: int
) -> None:
    response = subscribed.request(method, path.format(id=number), json=body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"

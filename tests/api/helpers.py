"""What the API tests share: the test key, request bodies, and a look at the tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from syncd.store.models import Base
from tests.api.client import ApiClient

API_KEY = "test-api-key-5f2a9c"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MERCHANT = "/api/v1/merchants/m1"
MAX_BODY_BYTES = 4096


def booking_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "cut",
        "staff": "alice",
        "start": "2026-12-01T10:00:00+01:00",
        "customer": {
            "name": "Jane Customer",
            "email": "jane@example.com",
            "phone": "+49 30 1234567",
            "timezone": "Europe/Berlin",
        },
    }
    return body | changes


def put_booking(client: ApiClient, key: str, **changes: Any) -> dict[str, Any]:
    response = client.put(f"{MERCHANT}/bookings/{key}", json=booking_body(**changes))
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every syncd table, to show a refused request stored nothing."""
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def mirrors_by_binding(booking: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["staff"], m["binding"]): m for m in booking["mirrors"]}

"""Bad requests get a clear 4xx naming what is wrong, and store nothing at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import MAX_BODY_BYTES, MERCHANT, booking_body, put_booking, snapshot

BOOKING = f"{MERCHANT}/bookings/b2"
JSON_TYPE = {"Content-Type": "application/json"}
CUSTOMER = booking_body()["customer"]


@dataclass(frozen=True)
class Bad:
    """A bad request and what the API must answer: status, error code, fields named."""

    name: str
    method: str
    path: str
    request: dict[str, Any]
    status: int
    code: str
    fields: tuple[str, ...] = ()


CASES = [
    Bad("malformed json", "PUT", BOOKING, {"content": b'{"service": ', "headers": JSON_TYPE},
        400, "malformed_json"),
    Bad("not utf-8", "PUT", BOOKING, {"content": b'{"a": "\xff"}', "headers": JSON_TYPE},
        400, "malformed_json"),
    Bad("nan", "PUT", BOOKING, {"content": b'{"a": NaN}', "headers": JSON_TYPE},
        400, "malformed_json"),
    Bad("empty body", "PUT", BOOKING, {"content": b"", "headers": JSON_TYPE},
        400, "malformed_json"),
    Bad("array body", "PUT", BOOKING, {"json": [booking_body()]}, 422, "invalid_input", ("body",)),
    Bad("wrong types", "PUT", BOOKING,
        {"json": booking_body(service=7, start=True, customer="Jane")},
        422, "invalid_input", ("service", "start", "customer")),
    Bad("unknown service", "PUT", BOOKING, {"json": booking_body(service="nails")},
        422, "invalid_input", ("service",)),
    Bad("unknown staff", "PUT", BOOKING, {"json": booking_body(staff="carol")},
        422, "invalid_input", ("staff",)),
    Bad("naive datetime", "PUT", BOOKING,
        {"json": booking_body(start="2026-12-01T10:00:00", end="2026-12-01T11:00:00")},
        422, "invalid_input", ("start", "end")),
    Bad("unknown time zone", "PUT", BOOKING,
        {"json": booking_body(customer=CUSTOMER | {"timezone": "Mars/Olympus_Mons"})},
        422, "invalid_input", ("customer.timezone",)),
    Bad("unknown field", "PUT", BOOKING, {"json": booking_body(colour="blue")},
        422, "invalid_input", ("colour",)),
    Bad("newline in name", "PUT", BOOKING,
        {"json": booking_body(customer=CUSTOMER | {"name": "Jane\nDoe"})},
        422, "invalid_input", ("customer.name",)),
    # PostgreSQL keeps no NUL in text, and UTF-8 no unpaired surrogate: both were a 500
    Bad("nul in notes", "PUT", BOOKING, {"json": booking_body(notes="a\x00b")},
        422, "invalid_input", ("notes",)),
    Bad("nul in a merchant's contact text", "PUT", MERCHANT,
        {"json": {"name": "Salon", "timezone": "UTC", "contact_text": "\x00"}},
        422, "invalid_input", ("contact_text",)),
    Bad("unpaired surrogate in a name", "PUT", BOOKING,
        {"content": json.dumps(booking_body(customer=CUSTOMER | {"name": "Jane \ud800"})),
         "headers": JSON_TYPE},
        422, "invalid_input", ("customer.name",)),
    Bad("nul in a field's name", "PUT", BOOKING,
        {"json": booking_body(customer=CUSTOMER | {"na\x00me": "Jane"})},
        422, "invalid_input", ("customer",)),
    Bad("bad status", "PUT", BOOKING, {"json": booking_body(status="cancelled")},
        422, "invalid_input", ("status",)),
    Bad("update with unknown staff", "PUT", f"{MERCHANT}/bookings/b1",
        {"json": booking_body(staff="carol")}, 422, "invalid_input", ("staff",)),
    Bad("clone with bad key", "POST", f"{MERCHANT}/bookings/b1/clone", {"json": {"key": "a b"}},
        422, "invalid_input", ("key",)),
    Bad("oversize body", "PUT", BOOKING,
        {"json": booking_body(notes="x" * MAX_BODY_BYTES)}, 413, "body_too_large"),
    Bad("text/plain", "PUT", BOOKING,
        {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
        415, "unsupported_media_type"),
    Bad("no content type", "PUT", BOOKING, {"content": b"{}"}, 415, "unsupported_media_type"),
    Bad("form", "PUT", BOOKING, {"data": {"service": "cut"}}, 415, "unsupported_media_type"),
    Bad("unknown merchant", "PUT", "/api/v1/merchants/m9/bookings/b2", {"json": booking_body()},
        404, "not_found"),
    Bad("unknown booking cancel", "POST", f"{MERCHANT}/bookings/b9/cancel", {}, 404, "not_found"),
    Bad("bad path key", "PUT", f"{MERCHANT}/bookings/b%0A2", {"json": booking_body()},
        404, "not_found"),
    Bad("missing key", "PUT", BOOKING, {"json": booking_body(), "headers": {"Authorization": ""}},
        401, "unauthorized"),
    Bad("wrong key", "PUT", BOOKING,
        {"json": booking_body(), "headers": {"Authorization": "Bearer not-the-key"}},
        401, "unauthorized"),
    Bad("wrong scheme", "PUT", BOOKING,
        {"json": booking_body(), "headers": {"Authorization": "Basic dGVzdDp0ZXN0"}},
        401, "unauthorized"),
]


@pytest.mark.parametrize("bad", CASES, ids=[bad.name for bad in CASES])
def test_a_bad_request_is_refused_and_stores_nothing(
    shop: ApiClient, runtime: Runtime, bad: Bad
) -> None:
    put_booking(shop, "b1")
    before = snapshot(runtime.engine)
    response = shop.request(bad.method, bad.path, **bad.request)
    assert response.status_code == bad.status, response.text
    error = response.json()["error"]
    assert error["code"] == bad.code
    assert set(error["fields"]) >= set(bad.fields)
    assert error["message"]
    assert snapshot(runtime.engine) == before


def test_end_before_start_is_refused(shop: ApiClient, runtime: Runtime) -> None:
    before = snapshot(runtime.engine)
    body = booking_body(start="2026-12-01T10:00:00+00:00", end="2026-12-01T09:00:00+00:00")
    response = shop.put(BOOKING, json=body)
    assert response.status_code == 422
    assert "end must be after start" in response.json()["error"]["fields"].values()
    assert snapshot(runtime.engine) == before


def test_a_refused_key_is_challenged(shop: ApiClient) -> None:
    response = shop.get(MERCHANT, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_unauthenticated_requests_learn_nothing_about_paths(shop: ApiClient) -> None:
    for path in ("/api/v1/nothing", MERCHANT, "/"):
           response = shop.delete(path, headers={"Authorization": ""})
           assert response.status_code == 401, path

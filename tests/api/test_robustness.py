"""Limits, races and failures: the API answers clearly and stores nothing half-done."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.types import Message

from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.schemas import BookingIn
from syncd.store import bookings, catalog
from syncd.store.models import Booking, Merchant
from tests.api.client import ApiClient
from tests.api.helpers import (
    API_KEY,
    MAX_BODY_BYTES,
    MERCHANT,
    booking_body,
    put_booking,
    snapshot,
)

BOOKING = f"{MERCHANT}/bookings/b1"
real_put_booking = bookings.put_booking


def _asgi_put(
    runtime: Runtime, chunks: Iterator[bytes], headers: dict[str, str]
) -> tuple[int, int]:
    """PUT a streamed body straight into the ASGI app: (status, bytes the app read)."""
    read = 0
    messages: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        chunk = next(chunks, None)
        read += len(chunk or b"")
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
        "scheme": "http", "path": BOOKING, "raw_path": BOOKING.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(create_app(runtime)(scope, receive, send))
    return int(messages[0]["status"]), read


HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


def test_a_chunked_body_is_cut_off_at_the_limit(runtime: Runtime) -> None:
    endless = itertools.repeat(b" " * 1000)
    status, read = _asgi_put(runtime, endless, HEADERS)
    assert status == 413
    assert MAX_BODY_BYTES < read <= MAX_BODY_BYTES + 1000


def test_a_declared_oversize_body_is_refused_unread(runtime: Runtime) -> None:
    headers = HEADERS | {"Content-Length": str(MAX_BODY_BYTES + 1)}
    status, read = _asgi_put(runtime, itertools.repeat(b" "), headers)
    assert (status, read) == (413, 0)


def _body_of_size(size: int) -> bytes:
    unpadded = len(json.dumps(booking_body(notes="")))
    content = json.dumps(booking_body(notes="x" * (size - unpadded))).encode()
    assert len(content) == size
    return content


def test_a_body_at_the_limit_is_read_and_one_byte_more_is_not(shop: ApiClient) -> None:
    headers = {"Content-Type": "application/json"}
    too_large = shop.put(BOOKING, content=_body_of_size(MAX_BODY_BYTES + 1), headers=headers)
    assert too_large.status_code == 413
    at_limit = shop.put(BOOKING, content=_body_of_size(MAX_BODY_BYTES), headers=headers)
    assert at_limit.status_code == 201


def test_without_a_configured_key_every_request_is_refused(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_API_KEY")
    with ApiClient(create_app(runtime), {"Authorization": f"Bearer {API_KEY}"}) as client:
        for path in (MERCHANT, "/api/v1/mirrors"):
            response = client.get(path)
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["code"] == "api_key_not_configured"
            assert "SYNCD_API_KEY" in error["message"]


def _store_then_fail(session: Session, merchant: Merchant, key: str, data: BookingIn) -> Any:
    real_put_booking(session, merchant, key, data)
    session.flush()
    raise RuntimeError(f"failed while booking {data.customer.name}")


def test_an_unexpected_error_is_a_generic_500_logged_without_customer_data(
    shop: ApiClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(bookings, "put_booking", _store_then_fail)
    before = snapshot(runtime.engine)
    with caplog.at_level(logging.ERROR, logger="syncd.api"):
        response = shop.put(BOOKING, json=booking_body())
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "Jane" not in response.text
    assert "RuntimeError" in caplog.text
    assert "_store_then_fail" in caplog.text
    assert "Jane" not in caplog.text
    assert "jane@example.com" not in caplog.text
    assert snapshot(runtime.engine) == before


def _duplicate_merchant(session: Session) -> None:
    session.add(Merchant(key="m1", name="Twin", timezone="UTC", contact_text=""))
    session.flush()


def test_a_unique_key_race_is_retried_once(
    shop: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def lose_the_first_race(session: Session, *args: Any) -> Any:
        calls.append("call")
        if len(calls) == 1:
            _duplicate_merchant(session)
        return real_put_booking(session, *args)

    monkeypatch.setattr(bookings, "put_booking", lose_the_first_race)
    response = shop.put(BOOKING, json=booking_body())
    assert response.status_code == 201
    assert len(calls) == 2


def test_a_unique_key_race_lost_twice_is_a_conflict(
    shop: ApiClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_lose(session: Session, *args: Any) -> Any:
        real_put_booking(session, *args)
        _duplicate_merchant(session)

    monkeypatch.setattr(bookings, "put_booking", always_lose)
    before = snapshot(runtime.engine)
    response = shop.put(BOOKING, json=booking_body())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert snapshot(runtime.engine) == before


# SQLite writers queue at BEGIN IMMEDIATE, so only PostgreSQL's can race.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_concurrent_puts_of_a_new_booking_make_one(
    shop: ApiClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_looked = threading.Barrier(2, timeout=10)
    first_lookups = itertools.count()
    real_find = catalog.find_in_merchant

    def find_then_wait(session: Session, model: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_find(session, model, *args, **kwargs)
        if model is Booking and next(first_lookups) < 2:
            both_looked.wait()
        return found

    monkeypatch.setattr(bookings, "find_in_merchant", find_then_wait)
    statuses: list[int] = []

    def put() -> None:
        statuses.append(shop.put(BOOKING, json=booking_body()).status_code)

    threads = [threading.Thread(target=put) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 201]
    assert next(first_lookups) == 3, "the loser looks again after its insert failed"
    assert put_booking(shop, "b1")["version"] == 1

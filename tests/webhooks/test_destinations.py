"""Webhooks never reach internal addresses unless the operator allows them, and tell nothing
of the network behind a URL."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.webhooks.destinations import REFUSED
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.servers import free_port
from tests.webhooks.conftest import (
    all_deliveries,
    book,
    deliver_all,
    migrated,
    seed_shop,
    settings_for,
    subscribe,
)
from tests.webhooks.receiver import Receiver

HOOKS = "/api/v1/merchants/acme/webhooks"
INTERNAL = [
    "http://127.0.0.1:9/hooks", "http://localhost/hooks", "http://[::1]/hooks",
    "http://0.0.0.0/hooks", "http://2130706433/hooks", "http://10.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/",
    "http://foo.localhost/", "http://224.0.0.1/", "http://100.64.0.1/", "http://240.0.0.1/",
]


@pytest.fixture
def shop_allowing(database_url: str) -> Iterator[Callable[..., Runtime]]:
    """acme on a runtime whose webhooks.allow_destinations is the argument."""
    made: list[Runtime] = []

    def make(allowed: list[str], **webhooks: Any) -> Runtime:
        runtime = migrated(settings_for(database_url, allow_destinations=allowed, **webhooks))
        made.append(runtime)
        seed_shop(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def _client(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> ApiClient:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    return ApiClient(create_app(runtime), headers=AUTH)


def _put(client: ApiClient, url: str) -> tuple[int, dict[str, Any]]:
    response = client.put(f"{HOOKS}/platform", json={"url": url, "events": ["booking.created"]})
    return response.status_code, response.json()


@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_literal_address_is_refused_when_subscribing(
    shop_allowing: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with _client(shop_allowing([]), monkeypatch) as client:
        status, body = _put(client, url)
        assert status == 422, body
        assert "url" in str(body)
        assert client.get(HOOKS).json()["items"] == []


def test_the_allow_list_admits_internal_destinations_by_network_or_name(
    shop_allowing: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = shop_allowing(["127.0.0.0/8", "localhost", "fd00::/8"])
    with _client(runtime, monkeypatch) as client:
        for url in ("http://127.0.0.1:9/", "http://localhost:9/", "http://[fd00::1]/"):
            assert _put(client, url)[0] in (200, 201), url
        assert _put(client, "http://10.0.0.1/")[0] == 422
        assert _put(client, "https://platform.example/hooks")[0] == 200


def test_a_stored_internal_url_is_refused_at_delivery_and_never_contacted(
    shop_allowing: Callable[..., Runtime], receiver: Receiver
) -> None:
    runtime = shop_allowing([])
    subscribe(runtime, receiver.url)  # made before syncd checked, or through the store
    book(runtime)
    deliver_all(runtime)
    (row,) = all_deliveries(runtime)
    assert (row.state, row.last_error) == ("failed", REFUSED)
    assert receiver.received == []


def test_a_name_is_checked_on_what_it_resolves_to(
    shop_allowing: Callable[..., Runtime], receiver: Receiver
) -> None:
    runtime = shop_allowing([])
    subscribe(runtime, receiver.url.replace("127.0.0.1", "localhost"))
    book(runtime)
    deliver_all(runtime)
    assert [r.state for r in all_deliveries(runtime)] == ["failed"]
    assert receiver.received == []


def test_an_allowed_name_is_delivered_with_its_own_host_header(
    shop_allowing: Callable[..., Runtime], receiver: Receiver
) -> None:
    runtime = shop_allowing(["localhost"])
    url = receiver.url.replace("127.0.0.1", "localhost")
    subscribe(runtime, url)
    book(runtime)
    deliver_all(runtime)
    assert [r.state for r in all_deliveries(runtime)] == ["delivered"]
    assert receiver.received[0].headers["host"] == url.split("/")[2]


def test_the_connection_goes_to_the_address_that_was_checked(
    shop_allowing: Callable[..., Runtime], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that answers an allowed address, then the metadata address (DNS rebinding)."""
    runtime = shop_allowing(["127.0.0.1"])
    lookups: list[str] = []
    answers = iter(["127.0.0.1"] + ["169.254.169.254"] * 10)
    port = int(receiver.url.split(":")[2].split("/")[0])

    async def rebinding(self: object, host: str, *args: object, **kw: object) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", rebinding)
    subscribe(runtime, f"http://hooks.rebind.example:{port}/hooks")
    book(runtime)
    deliver_all(runtime)
    assert [r.state for r in all_deliveries(runtime)] == ["delivered"]
    assert lookups == ["hooks.rebind.example"]  # one lookup; httpcore made none of its own
    assert receiver.received[0].headers["host"] == f"hooks.rebind.example:{port}"


class _SilentPort:
    """A TCP port that accepts and closes at once: open, but no HTTP server."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            connection.close()


@pytest.mark.parametrize("allowed", [[], ["127.0.0.1"]])
def test_the_error_does_not_tell_an_open_port_from_a_closed_one(
    shop_allowing: Callable[..., Runtime], allowed: list[str]
) -> None:
    runtime = shop_allowing(allowed, retry_period_hours=0.00001)
    silent = _SilentPort()
    try:
        subscribe(runtime, f"http://127.0.0.1:{silent.port}/", key="open")
        subscribe(runtime, f"http://127.0.0.1:{free_port()}/", key="closed")
        book(runtime)
        deliver_all(runtime)
    finally:
        silent.socket.close()
    rows = all_deliveries(runtime)
    assert [r.state for r in rows] == ["failed", "failed"]
    assert rows[0].last_error == rows[1].last_error

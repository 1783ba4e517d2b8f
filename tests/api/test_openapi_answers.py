"""Answers the generated runs seldom reach (conflicts, watch state, outbox, deliveries), made
by a real reconcile pass and checked against the document the API serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import schemathesis

from syncd.api import create_app
from tests.api.client import ApiClient
from tests.dbs import database_url
from tests.reconcile.hands import MemoryHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for

__all__ = ["database_url"]  # on SQLite and PostgreSQL

pytestmark = pytest.mark.anyio
KEY = "openapi-answers-key"
SALON = "/api/v1/merchants/salon"
WATCH = f"{SALON}/staff/alice/calendars/work/reconcile"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def shop(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Shop]:
    monkeypatch.setenv("SYNCD_API_KEY", KEY)
    hands = MemoryHands()
    runtime = migrated(settings_for(database_url, hands))
    yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()


@pytest.fixture
def api(shop: Shop) -> Iterator[ApiClient]:
    with ApiClient(create_app(shop.runtime), headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def _conforms(api: ApiClient, schema: Any, method: str, path: str, url: str, *,
              body: object = None) -> Any:
    response = api.request(method, url, json=body)
    assert response.status_code < 300, (url, response.text)
    schema[path][method].validate_response(response)
    return response.json() if response.content else None


async def test_conflicts_watch_state_mail_and_deliveries_answer_as_documented(
    shop: Shop, api: ApiClient
) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    await shop.hands.move(shop.calendar_id, shop.href("b1"), START + 2 * HOUR, START + 3 * HOUR)
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    schema = schemathesis.openapi.from_dict(api.get("/api/v1/openapi.json").json())
    merchant = "/api/v1/merchants/{merchant}"
    calendar = merchant + "/staff/{staff}/calendars/{binding}/reconcile"
    webhook = merchant + "/webhooks/{webhook}"

    listing = _conforms(api, schema, "GET", merchant + "/conflicts", f"{SALON}/conflicts")
    assert [item["id"] for item in listing["items"]] == [conflict.id]
    shown = f"{SALON}/conflicts/{conflict.id}"
    _conforms(api, schema, "GET", merchant + "/conflicts/{conflict_id}", shown)
    resolved = _conforms(api, schema, "POST", merchant + "/conflicts/{conflict_id}/resolve",
                         shown + "/resolve", body={"rule": "dismiss"})
    assert resolved["status"] == "resolved"
    state = _conforms(api, schema, "GET", calendar, WATCH)
    assert state["watched"]
    assert state["passes"] >= 2
    _conforms(api, schema, "POST", calendar, WATCH)

    mail = _conforms(api, schema, "GET", "/api/v1/outbox", "/api/v1/outbox")
    assert mail["items"], "the booking and the conflict were told by mail"
    deliveries = _conforms(api, schema, "GET", webhook + "/deliveries",
                           f"{SALON}/webhooks/platform/deliveries")
    assert {d["type"] for d in deliveries["items"]} >= {"booking.created", "conflict.detected"}
    first = deliveries["items"][0]["id"]
    _conforms(api, schema, "POST", webhook + "/deliveries/{delivery}/redeliver",
              f"{SALON}/webhooks/platform/deliveries/{first}/redeliver")
    _conforms(api, schema, "GET", merchant + "/webhooks", f"{SALON}/webhooks")
    _conforms(api, schema, "POST", webhook + "/rotate-secret",
              f"{SALON}/webhooks/platform/rotate-secret")
    booking = _conforms(api, schema, "GET", merchant + "/bookings/{booking}",
                        f"{SALON}/bookings/b1")
    assert booking["mirrors"][0]["actual"] == "present"
    _conforms(api, schema, "DELETE", webhook, f"{SALON}/webhooks/platform")

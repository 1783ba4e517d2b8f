"""Managing subscriptions through the admin API; failed deliveries listed and redelivered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.timeutil import utcnow
from syncd.webhooks.models import WebhookSubscription
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH, booking_body
from tests.webhooks.conftest import all_deliveries, deliver_all, seed_shop
from tests.webhooks.receiver import Receiver, always
from tests.webhooks.standard_webhooks import verify

HOOKS = "/api/v1/merchants/acme/webhooks"
EVENTS = ["booking.created", "booking.rescheduled", "booking.cancelled"]


@pytest.fixture
def client(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiClient]:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    seed_shop(runtime)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        yield client


def create(client: ApiClient, url: str, key: str = "platform") -> dict[str, object]:
    response = client.put(f"{HOOKS}/{key}", json={"url": url, "events": EVENTS})
    assert response.status_code == 201, response.text
    return dict(response.json())


def book(client: ApiClient, key: str = "b1") -> None:
    body = booking_body(staff="alice", start="2030-05-01T09:00:00+02:00")
    response = client.put(f"/api/v1/merchants/acme/bookings/{key}", json=body)
    assert response.status_code == 201, response.text


def test_the_secret_is_shown_once_on_creation(client: ApiClient, runtime: Runtime) -> None:
    created = create(client, "https://platform.example/hooks")
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    assert created["events"] == EVENTS
    updated = client.put(f"{HOOKS}/platform", json={
        "url": "https://platform.example/v2/hooks", "events": ["booking.cancelled"],
    })
    assert updated.status_code == 200
    for response in (updated, client.get(f"{HOOKS}/platform"), client.get(HOOKS)):
        assert "secret" not in response.json()
        assert secret not in response.text
    assert client.get(HOOKS).json()["items"][0]["url"] == "https://platform.example/v2/hooks"
    with runtime.sessions.begin() as session:
        assert session.query(WebhookSubscription).one().secret == secret


def test_unreadable_calendar_events_can_be_subscribed_to(client: ApiClient) -> None:
    body = {"url": "https://platform.example/hooks", "events": ["calendar.event_unreadable"]}
    response = client.put(f"{HOOKS}/calendars", json=body)
    assert response.status_code == 201, response.text
    assert client.get(f"{HOOKS}/calendars").json()["events"] == ["calendar.event_unreadable"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://platform.example/", "events": EVENTS}, "url"),
        ({"url": "https://platform.example/", "events": []}, "events"),
        ({"url": "https://platform.example/", "events": ["booking.exploded"]}, "events.0"),
        ({"url": "https://platform.example/", "events": EVENTS, "secret": "mine"}, "secret"),
    ],
)
def test_bad_subscriptions_are_refused_field_by_field(
    client: ApiClient, body: dict[str, object], field: str
) -> None:
    response = client.put(f"{HOOKS}/platform", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]
    assert client.get(HOOKS).json()["items"] == []


def test_unknown_names_are_404(client: ApiClient) -> None:
    assert client.get(f"{HOOKS}/nope").status_code == 404
    assert client.get("/api/v1/merchants/nope/webhooks").status_code == 404
    create(client, "https://platform.example/hooks")
    assert client.post(f"{HOOKS}/platform/deliveries/99/redeliver").status_code == 404


def test_rotation_signs_with_both_secrets_during_the_overlap(
    client: ApiClient, runtime: Runtime, receiver: Receiver
) -> None:
    old = str(create(client, receiver.url)["secret"])
    rotated = client.post(f"{HOOKS}/platform/rotate-secret")
    assert rotated.status_code == 200
    new = str(rotated.json()["secret"])
    assert new != old
    until = datetime.fromisoformat(rotated.json()["previous_secret_valid_until"])
    assert abs(until - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
    book(client)
    deliver_all(runtime)
    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verify(old, request.headers, request.body)
    verify(new, request.headers, request.body)
    assert old not in client.get(f"{HOOKS}/platform").text


def test_failed_deliveries_are_listed_and_redelivered_with_the_same_id(
    client: ApiClient, runtime: Runtime, receiver: Receiver
) -> None:
    create(client, receiver.url)
    receiver.answer = always(400)
    book(client)
    deliver_all(runtime)
    failed = client.get(f"{HOOKS}/platform/deliveries", params={"state": "failed"}).json()
    (item,) = failed["items"]
    assert (item["state"], item["last_status"], item["last_error"]) == ("failed", 400, "HTTP 400")
    assert item["payload"]["type"] == "booking.created"
    listed = client.get(f"{HOOKS}/platform").json()
    assert (listed["pending_deliveries"], listed["failed_deliveries"]) == (0, 1)
    receiver.answer = always(200)
    again = client.post(f"{HOOKS}/platform/deliveries/{item['id']}/redeliver")
    assert again.status_code == 200
    assert (again.json()["state"], again.json()["attempts"]) == ("pending", 0)
    deliver_all(runtime)
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == item["webhook_id"]
    assert client.get(f"{HOOKS}/platform/deliveries", params={"state": "failed"}).json() == {
        "items": [], "next_cursor": None,
    }
    listed = client.get(f"{HOOKS}/platform").json()
    assert (listed["pending_deliveries"], listed["failed_deliveries"]) == (0, 0)


def test_deliveries_are_paged(client: ApiClient, runtime: Runtime) -> None:
    create(client, "https://platform.example/hooks")
    for index in range(3):
        book(client, f"b{index}")
    page = client.get(f"{HOOKS}/platform/deliveries", params={"limit": 2}).json()
    assert len(page["items"]) == 2
    rest = client.get(f"{HOOKS}/platform/deliveries",
                      params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


def test_a_disabled_subscription_gets_no_events_until_enabled(
    client: ApiClient, runtime: Runtime
) -> None:
    create(client, "https://platform.example/hooks")
    body = {"url": "https://platform.example/hooks", "events": EVENTS, "enabled": False}
    disabled = client.put(f"{HOOKS}/platform", json=body).json()
    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "disabled through the API")
    book(client, "b1")
    assert all_deliveries(runtime) == []
    enabled = client.put(f"{HOOKS}/platform", json=body | {"enabled": True}).json()
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
    book(client, "b2")
    assert len(all_deliveries(runtime)) == 1


def test_deleting_a_subscription_drops_its_deliveries(client: ApiClient, runtime: Runtime) -> None:
    create(client, "https://platform.example/hooks")
    book(client)
    assert len(all_deliveries(runtime)) == 1
    assert client.delete(f"{HOOKS}/platform").status_code == 204
    assert client.get(f"{HOOKS}/platform").status_code == 404
    assert all_deliveries(runtime) == []

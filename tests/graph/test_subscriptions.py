"""Subscriptions: validation handshake, limits, notifications, renewal, lifecycle events."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.graph import GraphDouble, notifier
from tests.graph.conftest import event_body, graph_client
from tests.graph.receiver import NotificationReceiver
from tests.graph.signin_helpers import CALENDARS, public_app, sign_in_with_msal


@pytest.fixture
def receiver() -> Iterator[NotificationReceiver]:
    with NotificationReceiver() as running:
        yield running


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def subscribe(graph: httpx.Client, resource: str, url: str, **extra: Any) -> httpx.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": url,
        "resource": resource,
        "expirationDateTime": in_minutes(60),
        "clientState": "s3cret",
        **extra,
    }
    return graph.post("/subscriptions", json=body)


def test_create_validates_the_notification_url(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    response = subscribe(
        graph,
        f"/users/{mailbox}/events",
        receiver.url,
        lifecycleNotificationUrl=receiver.url + "/lifecycle",
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["changeType"] == "created,updated,deleted"
    assert created["clientState"] == "s3cret"
    assert created["applicationId"] == double.client_id
    assert len(receiver.validations) == 2  # notificationUrl and lifecycleNotificationUrl
    assert graph.get(f"/subscriptions/{created['id']}").json()["id"] == created["id"]
    assert [s["id"] for s in graph.get("/subscriptions").json()["value"]] == [created["id"]]


@pytest.mark.parametrize(("mode", "message"), [("refuse", "failed"), ("wrong", "exactly match")])
def test_a_failed_handshake_is_400_validation_error(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, mode: str, message: str
) -> None:
    receiver.validation = mode
    response = subscribe(graph, f"/users/{mailbox}/events", receiver.url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert message in response.json()["error"]["message"]


def test_a_slow_handshake_times_out(
    graph: httpx.Client,
    mailbox: str,
    receiver: NotificationReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifier, "VALIDATION_TIMEOUT", 0.3)
    receiver.validation_delay = 1.0
    response = subscribe(graph, f"/users/{mailbox}/events", receiver.url)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Subscription validation request timed out."


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"expirationDateTime": "2000-01-01T00:00:00Z"}, "InvalidRequest"),
        ({"expirationDateTime": None}, "InvalidRequest"),
        ({"changeType": "created,renamed"}, "InvalidRequest"),
        ({"clientState": "x" * 129}, "InvalidRequest"),
        ({"resource": "/nonsense"}, "InvalidRequest"),
        ({"resource": "me/events"}, "BadRequest"),
        ({"notificationUrl": "ftp://example.test/hook"}, "InvalidRequest"),
    ],
)
def test_invalid_subscriptions_are_400(
    graph: httpx.Client,
    mailbox: str,
    receiver: NotificationReceiver,
    extra: dict[str, Any],
    code: str,
) -> None:
    resource = extra.pop("resource", f"/users/{mailbox}/events")
    response = subscribe(graph, resource, receiver.url, **extra)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert receiver.validations == []


def test_other_outlook_resources_are_not_modelled(
    graph: httpx.Client, receiver: NotificationReceiver
) -> None:
    response = subscribe(graph, "/users/someone/messages", receiver.url)
    assert response.status_code == 501


def test_expiration_limit(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    too_long = subscribe(
        graph,
        f"/users/{mailbox}/events",
        receiver.url,
        expirationDateTime=in_minutes(double.subscription_max_minutes + 5),
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "ExtensionError"
    assert f"{double.subscription_max_minutes} minutes" in too_long.json()["error"]["message"]
    longest = subscribe(
        graph,
        f"/users/{mailbox}/events",
        receiver.url,
        expirationDateTime=in_minutes(double.subscription_max_minutes - 1),
    )
    assert longest.status_code == 201


def test_changes_are_notified_with_client_state(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    subscription = subscribe(graph, f"/users/{mailbox}/events", receiver.url).json()
    event = graph.post(f"/users/{mailbox}/calendar/events", json=event_body()).json()
    double.edit_event(mailbox, event["id"], subject="by staff")
    graph.delete(f"/users/{mailbox}/events/{event['id']}")
    deliveries = double.deliver_notifications()
    assert deliveries
    assert all(d.ok and d.status == 202 for d in deliveries)
    changes = receiver.changes()
    # Graph does not promise order across notification POSTs; neither does the double.
    assert sorted(c["changeType"] for c in changes) == ["created", "deleted", "updated"]
    first = next(c for c in changes if c["changeType"] == "created")
    assert first["subscriptionId"] == subscription["id"]
    assert first["clientState"] == "s3cret"
    assert first["tenantId"] == double.tenant_id
    assert first["resourceData"]["id"] == event["id"]
    assert first["resource"].endswith(f"/Events/{event['id']}")
    assert "subscriptionExpirationDateTime" in first


def test_only_the_subscribed_change_types_and_calendar(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    other = double.add_calendar(mailbox, "Other")
    subscribe(graph, f"/users/{mailbox}/calendar/events", receiver.url, changeType="created")
    event = graph.post(f"/users/{mailbox}/calendar/events", json=event_body()).json()
    graph.patch(f"/users/{mailbox}/events/{event['id']}", json={"subject": "changed"})
    graph.post(f"/users/{mailbox}/calendars/{other}/events", json=event_body())
    double.deliver_notifications()
    assert [(c["changeType"], c["resourceData"]["id"]) for c in receiver.changes()] == [
        ("created", event["id"])
    ]


def test_failed_notifications_are_retried_then_dropped(
    graph: httpx.Client,
    mailbox: str,
    receiver: NotificationReceiver,
    double: GraphDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifier, "RETRY_DELAYS", (0.05, 0.05))
    subscribe(graph, f"/users/{mailbox}/events", receiver.url)
    receiver.status = 500
    double.add_foreign_event(
        mailbox, "x", datetime(2030, 1, 1, 9, tzinfo=UTC), datetime(2030, 1, 1, 10, tzinfo=UTC)
    )
    deliveries = double.deliver_notifications()
    assert [d.status for d in deliveries] == [500, 500, 500]
    assert not any(d.ok for d in deliveries)


def test_a_slow_endpoint_is_not_ok(
    graph: httpx.Client,
    mailbox: str,
    receiver: NotificationReceiver,
    double: GraphDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifier, "NOTIFICATION_TIMEOUT", 0.2)
    monkeypatch.setattr(notifier, "RETRY_DELAYS", ())
    subscribe(graph, f"/users/{mailbox}/events", receiver.url)
    receiver.delay = 0.5
    double.add_foreign_event(
        mailbox, "x", datetime(2030, 1, 1, 9, tzinfo=UTC), datetime(2030, 1, 1, 10, tzinfo=UTC)
    )
    (delivery,) = double.deliver_notifications()
    assert delivery.status is None
    assert not delivery.ok


def test_renew_and_delete(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    subscription = subscribe(graph, f"/users/{mailbox}/events", receiver.url).json()
    url = f"/subscriptions/{subscription['id']}"
    renewed = graph.patch(url, json={"expirationDateTime": in_minutes(600)})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > subscription["expirationDateTime"]
    too_long = graph.patch(
        url, json={"expirationDateTime": in_minutes(double.subscription_max_minutes + 5)}
    )
    assert too_long.status_code == 400
    assert graph.delete(url).status_code == 204
    assert graph.get(url).status_code == 404
    graph.post(f"/users/{mailbox}/calendar/events", json=event_body())
    double.deliver_notifications()
    assert receiver.changes() == []


def test_expired_subscriptions_disappear(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    # Room for a slow validation handshake: the expiry must still be ahead when it is checked.
    expires = datetime.now(UTC) + timedelta(seconds=3)
    created = subscribe(
        graph, f"/users/{mailbox}/events", receiver.url, expirationDateTime=expires.isoformat()
    )
    assert created.status_code == 201, created.text
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    assert graph.get(f"/subscriptions/{created.json()['id']}").status_code == 404
    graph.post(f"/users/{mailbox}/calendar/events", json=event_body())
    double.deliver_notifications()
    assert receiver.changes() == []


def test_lifecycle_events(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    subscription = subscribe(
        graph, f"/users/{mailbox}/events", receiver.url, lifecycleNotificationUrl=receiver.url
    ).json()
    missed = double.lifecycle(subscription["id"], "missed")
    assert missed.status == 202
    reauthorize = double.lifecycle(subscription["id"], "reauthorizationRequired")
    assert reauthorize.ok
    assert graph.post(f"/subscriptions/{subscription['id']}/reauthorize").status_code == 204
    removed = double.lifecycle(subscription["id"], "subscriptionRemoved")
    assert removed.ok
    events = [item["lifecycleEvent"] for body in receiver.notifications for item in body["value"]]
    assert events == ["missed", "reauthorizationRequired", "subscriptionRemoved"]
    assert receiver.notifications[0]["value"][0]["clientState"] == "s3cret"
    assert graph.get(f"/subscriptions/{subscription['id']}").status_code == 404


def test_lifecycle_needs_a_lifecycle_url(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    subscription = subscribe(graph, f"/users/{mailbox}/events", receiver.url).json()
    with pytest.raises(ValueError, match="lifecycleNotificationUrl"):
        double.lifecycle(subscription["id"], "missed")


def test_mailbox_events_subscriptions_tell_of_the_default_calendar_only(
    graph: httpx.Client, mailbox: str, receiver: NotificationReceiver, double: GraphDouble
) -> None:
    other = double.add_calendar(mailbox, "Other")
    subscribe(graph, f"/users/{mailbox}/events", receiver.url)
    graph.post(f"/users/{mailbox}/calendars/{other}/events", json=event_body())
    shown = graph.post(f"/users/{mailbox}/calendar/events", json=event_body()).json()
    graph.delete(f"/users/{mailbox}/calendar/events/{shown['id']}")
    double.deliver_notifications()
    assert sorted(c["changeType"] for c in receiver.changes()) == ["created", "deleted"]
    assert {c["resourceData"]["id"] for c in receiver.changes()} == {shown["id"]}


def test_a_signed_in_user_subscribes_to_their_own_events_only(
    double: GraphDouble, graph: httpx.Client, mailbox: str, receiver: NotificationReceiver
) -> None:
    staff = f"staff-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_user(staff)
    double.sign_in(staff)
    _, app = public_app(double)
    token = sign_in_with_msal(double, app, CALENDARS)["access_token"]
    with graph_client(double, token) as delegated:
        assert subscribe(delegated, "me/events", receiver.url).status_code == 201
        assert subscribe(delegated, "me/calendar/events", receiver.url).status_code == 201
        mine = subscribe(delegated, f"users/{staff}/events", receiver.url)
        assert mine.status_code == 201
        theirs = subscribe(delegated, f"users/{mailbox}/events", receiver.url)
        assert theirs.status_code == 403
        assert theirs.json()["error"]["code"] == "ErrorAccessDenied"
        assert delegated.post("/me/events", json=event_body()).status_code == 201
    as_app = subscribe(graph, "me/events", receiver.url)
    assert as_app.status_code == 400
    assert "delegated" in as_app.json()["error"]["message"]
    double.deliver_notifications()
    assert [c["changeType"] for c in receiver.changes()] == ["created"] * 3

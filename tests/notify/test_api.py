"""End to end through the API: changes pushed by the platform reach everyone concerned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from syncd.api import create_app
from syncd.notify.models import ReminderState
from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.notify import shop
from tests.notify.smtp_sink import Received, SmtpSink
from tests.notify.support import (
    SenderThread,
    all_settled,
    calendar_of,
    outbox_rows,
    reminder_rows,
    text_of,
    wait_until,
)

SALON = "/api/v1/merchants/salon"


@pytest.fixture
def api(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiClient]:
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        yield client


def put(api: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.put(SALON + path, json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@pytest.fixture
def salon(api: ApiClient) -> ApiClient:
    put(api, "", {"name": "Salon One", "timezone": "Europe/Berlin", "contact_text": "Call us."})
    put(api, "/services/cut", {
        "name": "Haircut", "duration_minutes": 30, "reminder_minutes_before": [60, 1440],
    })
    for key in ("alice", "bob"):
        put(api, f"/staff/{key}", {
            "name": key.title(), "email": f"{key}@salon.example", "timezone": "Europe/Berlin",
        })
    put(api, "/notifications", {"addresses": [shop.OWNER]})
    return api


def booking(start: str, staff: str = "alice") -> dict[str, Any]:
    return {
        "service": "cut",
        "staff": staff,
        "start": start,
        "customer": {"name": "Jane", "email": shop.CUSTOMER, "timezone": "Europe/Paris"},
    }


def arrived_after(sink: SmtpSink, count: int, runtime: Runtime) -> list[Received]:
    """The messages after the first `count`, once every queued one is settled."""
    wait_until(lambda: all_settled(runtime), what="every message settled")
    return sink.wait_for(len(outbox_rows(runtime)))[count:]


def recipients(received: list[Received]) -> list[str]:
    return sorted(r.rcpt_tos[0] for r in received)


def test_reschedule_tells_each_one_once_and_moves_the_reminders(
    salon: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    with SenderThread(runtime):
        put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00"))
        first = len(arrived_after(sink, 0, runtime))
        put(salon, "/bookings/b1", booking("2030-03-06T15:00:00+01:00"))
        moved = arrived_after(sink, first, runtime)
    assert first == 3
    assert recipients(moved) == ["alice@salon.example", shop.CUSTOMER, shop.OWNER]
    customer = next(r.message for r in moved if r.rcpt_tos == [shop.CUSTOMER])
    assert customer["Subject"] == "Booking moved: Haircut, now Wed 6 Mar 2030, 15:00"
    assert "It was: Monday, 4 March 2030, 10:00" in text_of(customer)
    assert int(calendar_of(customer).events[0]["SEQUENCE"]) == 1
    new_start = shop.START + timedelta(days=2, hours=5)
    due = {(r.minutes, r.due_at, r.state) for r in reminder_rows(runtime)}
    assert due == {
        (60, new_start - timedelta(hours=1), ReminderState.SCHEDULED),
        (1440, new_start - timedelta(days=1), ReminderState.SCHEDULED),
    }


def test_cancel_sends_method_cancel_and_drops_the_reminders(
    salon: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    with SenderThread(runtime):
        put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00"))
        first = len(arrived_after(sink, 0, runtime))
        assert salon.post(SALON + "/bookings/b1/cancel").status_code == 200
        cancelled = arrived_after(sink, first, runtime)
    assert recipients(cancelled) == ["alice@salon.example", shop.CUSTOMER, shop.OWNER]
    customer = next(r.message for r in cancelled if r.rcpt_tos == [shop.CUSTOMER])
    calendar = calendar_of(customer)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(calendar.events[0]["STATUS"]) == "CANCELLED"
    assert {r.state for r in reminder_rows(runtime)} == {ReminderState.DROPPED}


def test_a_change_of_staff_tells_the_previous_and_the_new_one(
    salon: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    with SenderThread(runtime):
        put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00"))
        first = len(arrived_after(sink, 0, runtime))
        put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00", staff="bob"))
        moved = arrived_after(sink, first, runtime)
    assert recipients(moved) == [
        "alice@salon.example", "bob@salon.example", shop.CUSTOMER, shop.OWNER,
    ]
    subjects = {r.rcpt_tos[0]: r.message["Subject"] for r in moved}
    assert subjects["alice@salon.example"].startswith("Booking moved to Bob:")
    assert "has moved to you from Alice" in text_of(
        next(r.message for r in moved if r.rcpt_tos == ["bob@salon.example"])
    )


def test_notification_settings_decide_who_is_told(
    salon: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    defaults = salon.get(SALON + "/staff/alice/notifications").json()
    assert defaults == {
        "events": {"new": True, "rescheduled": True, "cancelled": True, "conflict": True,
                   "rated": True, "unreadable": True},
    }
    put(salon, "/staff/alice/notifications", {"events": {"new": False}})
    merchant = put(salon, "/notifications", {
        "addresses": [shop.OWNER, "desk@salon.example"],
        "reply_to": "desk@salon.example",
        "events": {"rescheduled": False},
    })
    assert merchant["events"]["rescheduled"] is False
    assert merchant["events"]["new"] is True
    with SenderThread(runtime):
        put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00"))
        made = arrived_after(sink, 0, runtime)
        put(salon, "/bookings/b1", booking("2030-03-05T10:00:00+01:00"))
        moved = arrived_after(sink, len(made), runtime)
    assert recipients(made) == ["desk@salon.example", shop.CUSTOMER, shop.OWNER]
    assert recipients(moved) == ["alice@salon.example", shop.CUSTOMER]
    customer = next(r.message for r in made if r.rcpt_tos == [shop.CUSTOMER])
    assert customer["Reply-To"] == "Salon One <desk@salon.example>"


def test_bad_notification_settings_are_refused_naming_each_field(salon: ApiClient) -> None:
    response = salon.put(SALON + "/notifications", json={
        "addresses": ["not an address"], "events": {"new": "sometimes", "colour": True},
    })
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {
        "addresses.0", "events.new", "events.colour",
    }
    assert salon.get(SALON + "/notifications").json()["addresses"] == [shop.OWNER]
    assert salon.get(SALON + "/staff/nobody/notifications").status_code == 404


def test_the_outbox_is_listed_page_by_page(
    salon: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    put(salon, "/bookings/b1", booking("2030-03-04T10:00:00+01:00"))
    first = salon.get("/api/v1/outbox", params={"limit": 2}).json()
    assert [item["state"] for item in first["items"]] == ["queued", "queued"]
    rest = salon.get("/api/v1/outbox", params={"cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert salon.get("/api/v1/outbox", params={"state": "lost"}).status_code == 422
    assert salon.get("/api/v1/outbox", params={"merchant": "salon", "state": "sent"}).json() == {
        "items": [], "next_cursor": None,
    }

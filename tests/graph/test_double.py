"""The GraphDouble handle itself: addresses, mailboxes, staff-side helpers, restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from tests.graph import GraphDouble
from tests.graph.conftest import event_body, graph_client


def test_addresses(double: GraphDouble) -> None:
    assert double.base_url.startswith("https://127.0.0.1:")
    assert double.graph_url == double.base_url + "/v1.0"
    assert str(uuid.UUID(double.tenant_id)) == double.tenant_id
    assert double.authority == f"{double.base_url}/{double.tenant_id}"
    config = httpx.get(
        f"{double.authority}/v2.0/.well-known/openid-configuration", verify=double.tls_verify()
    ).json()
    assert config["token_endpoint"] == f"{double.authority}/oauth2/v2.0/token"
    assert {"authorization_endpoint", "issuer"} <= set(config)


def test_mailboxes_by_id_or_upn(double: GraphDouble, graph: httpx.Client) -> None:
    upn = f"id-{uuid.uuid4().hex[:6]}@contoso.test"
    mailbox_id = double.add_mailbox(upn, timezone="America/New_York")
    assert str(uuid.UUID(mailbox_id)) == mailbox_id
    created = graph.post(f"/users/{mailbox_id}/calendar/events", json=event_body()).json()
    by_upn = graph.get(f"/users/{upn.upper()}/events/{created['id']}")
    assert by_upn.status_code == 200
    assert [e["id"] for e in double.events(upn)] == [created["id"]]


def test_mailboxes_are_created_on_first_use(double: GraphDouble, graph: httpx.Client) -> None:
    upn = f"new-{uuid.uuid4().hex[:6]}@contoso.test"
    assert graph.get(f"/users/{upn}/calendar/events").json()["value"] == []
    assert double.events(upn) == []


def test_foreign_events_in_other_calendars(double: GraphDouble, mailbox: str) -> None:
    calendar = double.add_calendar(mailbox, "Private")
    start = datetime(2030, 5, 1, 9, tzinfo=UTC)
    event_id = double.add_foreign_event(
        mailbox, "Dentist", start, start.replace(hour=10), show_as="oof", calendar_id=calendar
    )
    (event,) = double.events(mailbox)
    assert event["id"] == event_id
    assert event["calendarId"] == calendar
    assert event["showAs"] == "oof"
    assert event["start"]["dateTime"] == "2030-05-01T09:00:00.0000000"
    assert event["originalStartTimeZone"] == "Europe/Berlin"


def test_immutable_ids_are_accepted(graph: httpx.Client, mailbox: str) -> None:
    prefer = {"Prefer": 'IdType="ImmutableId"'}
    created = graph.post(f"/users/{mailbox}/calendar/events", json=event_body(), headers=prefer)
    assert created.status_code == 201
    again = graph.get(f"/users/{mailbox}/events/{created.json()['id']}", headers=prefer)
    assert again.json()["id"] == created.json()["id"]
    assert 'IdType="ImmutableId"' in again.headers["Preference-Applied"]


def test_stop_and_start_again_on_the_same_port_with_the_same_data() -> None:
    with GraphDouble() as double:
        double.add_foreign_event(
            "anna@contoso.test",
            "kept",
            datetime(2030, 1, 1, 9, tzinfo=UTC),
            datetime(2030, 1, 1, 10, tzinfo=UTC),
        )
        url = double.base_url
        double.stop()
        try:
            httpx.get(url, verify=double.tls_verify(), timeout=1)
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the stopped double still answers")
        double.start()
        assert double.base_url == url
        with graph_client(double) as client:
            events = client.get("/users/anna@contoso.test/calendar/events").json()["value"]
        assert [e["subject"] for e in events] == ["kept"]


def test_without_mailboxes_on_demand_an_unknown_user_is_invalid(
    double: GraphDouble, graph: httpx.Client, mailbox: str
) -> None:
    double.mailboxes_on_demand = False
    try:
        unknown = graph.get("/users/nobody-at-all@contoso.test/calendars")
        known = graph.get(f"/users/{mailbox}/calendars")
    finally:
        double.mailboxes_on_demand = True
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"
    assert known.status_code == 200

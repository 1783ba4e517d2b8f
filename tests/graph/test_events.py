"""Events CRUD against the double: shapes, $filter/$expand/$select, If-Match, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.graph import GraphDouble
from tests.graph.conftest import BOOKING_PROPERTY, event_body

TAG = [{"id": BOOKING_PROPERTY, "value": "booking-1"}]


def create(graph: httpx.Client, mailbox: str, **extra: Any) -> dict[str, Any]:
    response = graph.post(f"/users/{mailbox}/calendar/events", json=event_body(**extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


def error_code(response: httpx.Response) -> str:
    body = response.json()["error"]
    assert set(body["innerError"]) == {"date", "request-id", "client-request-id"}
    return str(body["code"])


def test_create_returns_the_event_in_utc_with_etag_and_change_key(
    graph: httpx.Client, mailbox: str
) -> None:
    event = create(
        graph,
        mailbox,
        transactionId="tx-1",
        showAs="busy",
        location={"displayName": "Salon"},
        body={"contentType": "text", "content": "Hi"},
    )
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["start"] == {"dateTime": "2030-03-04T09:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Europe/Berlin"
    assert event["type"] == "singleInstance"
    assert event["transactionId"] == "tx-1"
    assert event["location"]["displayName"] == "Salon"
    assert event["body"]["contentType"] == "html"
    assert "singleValueExtendedProperties" not in event
    for name in (
        "id",
        "iCalUId",
        "createdDateTime",
        "lastModifiedDateTime",
        "isCancelled",
        "showAs",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "recurrence",
    ):
        assert name in event


def test_windows_zone_names_and_prefer_outlook_timezone(graph: httpx.Client, mailbox: str) -> None:
    event = create(graph, mailbox, zone="W. Europe Standard Time")
    response = graph.get(
        f"/users/{mailbox}/events/{event['id']}",
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    assert response.json()["start"] == {
        "dateTime": "2030-03-04T01:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert 'outlook.timezone="Pacific Standard Time"' in response.headers["Preference-Applied"]


def test_an_unknown_prefer_timezone_is_refused_before_creating(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    response = graph.post(
        f"/users/{mailbox}/calendar/events",
        json=event_body(),
        headers={"Prefer": 'outlook.timezone="Nowhere/Land"'},
    )
    assert response.status_code == 400
    assert error_code(response) == "TimeZoneNotSupportedException"
    assert double.events(mailbox) == []


def test_transaction_id_returns_the_existing_event(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    first = create(graph, mailbox, transactionId="retry-me")
    again = create(graph, mailbox, transactionId="retry-me", subject="changed on retry")
    assert again["id"] == first["id"]
    assert [e["id"] for e in double.events(mailbox)] == [first["id"]]


def test_filter_on_extended_property_and_expand(graph: httpx.Client, mailbox: str) -> None:
    tagged = create(graph, mailbox, singleValueExtendedProperties=TAG)
    create(
        graph, mailbox, singleValueExtendedProperties=[{"id": BOOKING_PROPERTY, "value": "other"}]
    )
    create(graph, mailbox)
    filter_ = (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{BOOKING_PROPERTY}' "
        "and ep/value eq 'BOOKING-1')"
    )  # values compare without regard to case
    found = graph.get(f"/users/{mailbox}/events", params={"$filter": filter_}).json()["value"]
    assert [e["id"] for e in found] == [tagged["id"]]
    assert "singleValueExtendedProperties" not in found[0]
    expand = f"singleValueExtendedProperties($filter=id eq '{BOOKING_PROPERTY}')"
    expanded = graph.get(
        f"/users/{mailbox}/events/{tagged['id']}", params={"$expand": expand}
    ).json()
    assert expanded["singleValueExtendedProperties"] == TAG


def test_extended_property_name_is_case_sensitive(graph: httpx.Client, mailbox: str) -> None:
    create(graph, mailbox, singleValueExtendedProperties=TAG)
    other_name = BOOKING_PROPERTY.replace("bookingId", "BOOKINGID")
    filter_ = (
        f"singleValueExtendedProperties/any(ep: ep/id eq '{other_name}' "
        "and ep/value eq 'booking-1')"
    )
    assert graph.get(f"/users/{mailbox}/events", params={"$filter": filter_}).json()["value"] == []


@pytest.mark.parametrize(
    "filter_",
    [
        "singleValueExtendedProperties/Any(ep: ep/id eq 'x' and",
        "singleValueExtendedProperties/Any(ep: ep/id eq 'not an id' and ep/value eq 'x')",
        "nosuchproperty eq 'x'",
    ],
)
def test_malformed_filters_are_400(graph: httpx.Client, mailbox: str, filter_: str) -> None:
    response = graph.get(f"/users/{mailbox}/events", params={"$filter": filter_})
    assert response.status_code == 400


def test_select_keeps_id_and_etag(graph: httpx.Client, mailbox: str) -> None:
    event = create(graph, mailbox)
    selected = graph.get(
        f"/users/{mailbox}/events/{event['id']}", params={"$select": "subject"}
    ).json()
    assert set(selected) == {"@odata.context", "@odata.etag", "id", "subject"}
    assert graph.get(f"/users/{mailbox}/events", params={"$select": "bogus"}).status_code == 400


def test_patch_with_if_match(graph: httpx.Client, mailbox: str) -> None:
    event = create(graph, mailbox)
    url = f"/users/{mailbox}/calendar/events/{event['id']}"
    moved = graph.patch(
        url,
        json={
            "start": {"dateTime": "2030-03-05T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-05T11:00:00", "timeZone": "UTC"},
        },
        headers={"If-Match": str(event["@odata.etag"])},
    )
    assert moved.status_code == 200
    assert moved.json()["changeKey"] != event["changeKey"]
    stale = graph.patch(
        url, json={"subject": "late"}, headers={"If-Match": str(event["@odata.etag"])}
    )
    assert stale.status_code == 412
    assert error_code(stale) == "ErrorIrresolvableConflict"
    stale_delete = graph.delete(url, headers={"If-Match": str(event["@odata.etag"])})
    assert stale_delete.status_code == 412
    assert graph.delete(url, headers={"If-Match": moved.json()["@odata.etag"]}).status_code == 204
    assert graph.get(url).status_code == 404


def test_unknown_ids_are_404(graph: httpx.Client, mailbox: str) -> None:
    for response in (
        graph.get(f"/users/{mailbox}/events/AAMkAnope="),
        graph.patch(f"/users/{mailbox}/events/AAMkAnope=", json={"subject": "x"}),
        graph.delete(f"/users/{mailbox}/events/AAMkAnope="),
        graph.get(f"/users/{mailbox}/calendars/AAMkAnope=/events"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "ErrorItemNotFound"


def test_events_of_another_calendar(graph: httpx.Client, mailbox: str, double: GraphDouble) -> None:
    second = double.add_calendar(mailbox, "Bookings")
    response = graph.post(f"/users/{mailbox}/calendars/{second}/events", json=event_body())
    event_id = response.json()["id"]
    assert graph.get(f"/users/{mailbox}/calendars/{second}/events/{event_id}").status_code == 200
    assert graph.get(f"/users/{mailbox}/calendar/events/{event_id}").status_code == 404
    assert graph.get(f"/users/{mailbox}/events/{event_id}").status_code == 200
    calendars = graph.get(f"/users/{mailbox}/calendars").json()["value"]
    assert {c["name"] for c in calendars} == {"Calendar", "Bookings"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"subject": "no times"}, "ErrorInvalidRequest"),
        (event_body(start="2030-03-04T12:00:00"), "ErrorCalendarEndDateIsEarlierThanStartDate"),
        (event_body(zone="Mars/Olympus_Mons"), "TimeZoneNotSupportedException"),
        (event_body(showAs="maybe"), "RequestBodyRead"),
        (event_body(subjct="typo"), "RequestBodyRead"),
        (event_body(start="tomorrow"), "ErrorInvalidRequest"),
        (
            event_body(singleValueExtendedProperties=[{"id": "bookingId", "value": "1"}]),
            "ErrorInvalidProperty",
        ),
    ],
)
def test_malformed_bodies_are_400(
    graph: httpx.Client, mailbox: str, body: dict[str, object], code: str
) -> None:
    response = graph.post(f"/users/{mailbox}/calendar/events", json=body)
    assert response.status_code == 400
    assert error_code(response) == code


def test_non_json_body_is_400(graph: httpx.Client, mailbox: str) -> None:
    response = graph.post(
        f"/users/{mailbox}/calendar/events",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_me_needs_delegated_auth(graph: httpx.Client) -> None:
    response = graph.get("/me/events")
    assert response.status_code == 400


def test_staff_edits_show_up_with_a_new_etag(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    event = create(graph, mailbox)
    double.edit_event(mailbox, str(event["id"]), subject="moved by staff", show_as="free")
    current = graph.get(f"/users/{mailbox}/events/{event['id']}").json()
    assert current["subject"] == "moved by staff"
    assert current["showAs"] == "free"
    assert current["@odata.etag"] != event["@odata.etag"]
    double.delete_event_by_hand(mailbox, str(event["id"]))
    assert graph.get(f"/users/{mailbox}/calendar/events/{event['id']}").status_code == 404


def test_list_pages_with_top_and_next_link(graph: httpx.Client, mailbox: str) -> None:
    created = {create(graph, mailbox, subject=f"e{i}")["id"] for i in range(12)}
    first = graph.get(f"/users/{mailbox}/events").json()
    assert len(first["value"]) == 10  # Graph's default page size
    second = graph.get(first["@odata.nextLink"]).json()
    assert "@odata.nextLink" not in second
    assert {e["id"] for e in first["value"] + second["value"]} == created
    small = graph.get(f"/users/{mailbox}/events", params={"$top": "5"}).json()
    assert len(small["value"]) == 5
    assert "@odata.nextLink" in small


def test_a_deleted_event_moves_to_deleted_items_with_its_id(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    event = create(graph, mailbox)
    assert graph.delete(f"/users/{mailbox}/calendar/events/{event['id']}").status_code == 204
    assert double.deleted_events(mailbox) == [event["id"]]
    assert graph.get(f"/users/{mailbox}/calendar/events/{event['id']}").status_code == 404
    # the mailbox-wide path still reads and even updates it
    assert graph.get(f"/users/{mailbox}/events/{event['id']}").status_code == 200
    patched = graph.patch(f"/users/{mailbox}/events/{event['id']}", json={"subject": "x"})
    assert patched.status_code == 200
    assert double.events(mailbox) == []


def test_a_transaction_id_of_a_deleted_event_is_never_answered_with_it(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    body = event_body(transactionId="tx-1")
    event = graph.post(f"/users/{mailbox}/calendar/events", json=body).json()
    graph.delete(f"/users/{mailbox}/calendar/events/{event['id']}")
    again = graph.post(f"/users/{mailbox}/calendar/events", json=body)
    assert again.status_code == 400
    assert double.events(mailbox) == []


def test_writes_answer_html_bodies_whatever_prefer_says(
    graph: httpx.Client, mailbox: str
) -> None:
    text = {"Prefer": 'outlook.body-content-type="text"'}
    body = event_body(body={"contentType": "text", "content": "Bring <id>"})
    created = graph.post(f"/users/{mailbox}/calendar/events", json=body, headers=text).json()
    assert created["body"]["contentType"] == "html"
    assert "Bring &lt;id&gt;" in created["body"]["content"]
    path = f"/users/{mailbox}/calendar/events/{created['id']}"
    patched = graph.patch(path, json={"subject": "y"}, headers=text).json()
    assert patched["body"]["contentType"] == "html"
    assert graph.get(path, headers=text).json()["body"]["contentType"] == "text"


@pytest.mark.parametrize("zone", ["Europe/Vienna", "America/Argentina/Cordoba"])
def test_time_zones_outside_the_documented_list_are_refused(
    graph: httpx.Client, mailbox: str, zone: str
) -> None:
    answer = graph.post(f"/users/{mailbox}/calendar/events", json=event_body(zone=zone))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "TimeZoneNotSupportedException"
    for accepted in ("W. Europe Standard Time", "Europe/Berlin", "UTC"):
        ok = graph.post(f"/users/{mailbox}/calendar/events", json=event_body(zone=accepted))
        assert ok.status_code == 201


def test_undocumented_forms_are_refused_unless_allowed(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    window = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
    refused = [
        (f"/users/{mailbox}/calendar/calendarView/delta", window),
        (f"/users/{mailbox}/calendar/events", {"$filter": "subject eq 'x'"}),
        (f"/users/{mailbox}/events", {"$expand": "singleValueExtendedProperties"}),
    ]
    for path, params in refused:
        assert graph.get(path, params=params).status_code == 400, path
    double.undocumented_forms = True
    try:
        for path, params in refused:
            assert graph.get(path, params=params).status_code == 200, path
    finally:
        double.undocumented_forms = False
    assert graph.get(f"/users/{mailbox}/calendarView/delta", params=window).status_code == 200
    assert graph.get(f"/users/{mailbox}/events", params={"$filter": "subject eq 'x'"}).is_success

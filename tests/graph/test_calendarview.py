"""calendarView (window, paging, recurrence) and getSchedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.graph import GraphDouble

WINDOW = {"startDateTime": "2030-03-01T00:00:00Z", "endDateTime": "2030-04-15T00:00:00Z"}
WEEKLY = {
    "pattern": {
        "type": "weekly",
        "interval": 1,
        "daysOfWeek": ["monday", "wednesday"],
        "firstDayOfWeek": "monday",
    },
    "range": {"type": "endDate", "startDate": "2030-03-18", "endDate": "2030-04-05"},
}


def view(graph: httpx.Client, mailbox: str, **params: str) -> dict[str, Any]:
    response = graph.get(f"/users/{mailbox}/calendar/calendarView", params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_window_is_required(graph: httpx.Client, mailbox: str) -> None:
    response = graph.get(f"/users/{mailbox}/calendarView")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_instances_overlapping_the_window(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    inside = double.add_foreign_event(
        mailbox, "inside", datetime(2030, 3, 2, 9), datetime(2030, 3, 2, 10)
    )
    double.add_foreign_event(mailbox, "before", datetime(2030, 2, 2, 9), datetime(2030, 2, 2, 10))
    across = double.add_foreign_event(
        mailbox, "across", datetime(2030, 2, 28, 23), datetime(2030, 3, 1, 2)
    )
    found = [e["id"] for e in view(graph, mailbox)["value"]]
    assert found == [across, inside]


def test_paging_with_maxpagesize(graph: httpx.Client, mailbox: str, double: GraphDouble) -> None:
    ids = [
        double.add_foreign_event(
            mailbox, f"e{i}", datetime(2030, 3, 2 + i, 9), datetime(2030, 3, 2 + i, 10)
        )
        for i in range(5)
    ]
    response = graph.get(
        f"/users/{mailbox}/calendarView", params=WINDOW, headers={"Prefer": "odata.maxpagesize=2"}
    )
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    pages, body = [], response.json()
    while True:
        pages.append([e["id"] for e in body["value"]])
        if "@odata.nextLink" not in body:
            break
        body = graph.get(body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


def test_series_expand_into_occurrences_at_local_time(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    master = double.add_foreign_event(
        mailbox,
        "standup",
        datetime(2030, 3, 18, 9),
        datetime(2030, 3, 18, 9, 30),
        recurrence=WEEKLY,
    )
    occurrences = view(graph, mailbox)["value"]
    starts = [o["start"]["dateTime"][:16] for o in occurrences]
    # Europe/Berlin moves to summer time on 2030-03-31: 09:00 local is 08:00Z, then 07:00Z.
    assert starts == [
        "2030-03-18T08:00",
        "2030-03-20T08:00",
        "2030-03-25T08:00",
        "2030-03-27T08:00",
        "2030-04-01T07:00",
        "2030-04-03T07:00",
    ]
    assert {o["type"] for o in occurrences} == {"occurrence"}
    assert {o["seriesMasterId"] for o in occurrences} == {master}
    one = occurrences[2]["id"]
    assert graph.get(f"/users/{mailbox}/events/{one}").json()["start"] == occurrences[2]["start"]
    assert graph.delete(f"/users/{mailbox}/events/{one}").status_code == 204
    assert len(view(graph, mailbox)["value"]) == 5
    assert graph.get(f"/users/{mailbox}/events/{master}").json()["type"] == "seriesMaster"


def test_invalid_recurrence_is_400(graph: httpx.Client, mailbox: str) -> None:
    body = {
        "subject": "x",
        "start": {"dateTime": "2030-03-18T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-18T10:00:00", "timeZone": "UTC"},
        "recurrence": {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "noEnd"}},
    }
    assert graph.post(f"/users/{mailbox}/calendar/events", json=body).status_code == 400


def schedule_body(
    *schedules: str,
    start: str = "2030-03-04T08:00:00",
    end: str = "2030-03-04T12:00:00",
    interval: int = 60,
) -> dict[str, Any]:
    return {
        "schedules": list(schedules),
        "availabilityViewInterval": interval,
        "startTime": {"dateTime": start, "timeZone": "UTC"},
        "endTime": {"dateTime": end, "timeZone": "UTC"},
    }


def at(hour: int) -> datetime:
    return datetime(2030, 3, 4, hour, tzinfo=UTC)


def test_get_schedule(graph: httpx.Client, mailbox: str, double: GraphDouble) -> None:
    double.add_foreign_event(mailbox, "busy", at(8), at(9))
    double.add_foreign_event(mailbox, "maybe", at(9), at(10), show_as="tentative")
    double.add_foreign_event(mailbox, "away", at(10), at(11), show_as="oof")
    double.add_foreign_event(mailbox, "lunch", at(11), at(12), show_as="free")
    response = graph.post(
        f"/users/{mailbox}/calendar/getSchedule",
        json=schedule_body(mailbox, "nobody@elsewhere.test"),
    )
    assert response.status_code == 200
    mine, unknown = response.json()["value"]
    assert mine["scheduleId"] == mailbox
    assert mine["availabilityView"] == "2130"
    assert [i["status"] for i in mine["scheduleItems"]] == ["busy", "tentative", "oof"]
    assert mine["scheduleItems"][0]["start"] == {
        "dateTime": "2030-03-04T08:00:00.0000000",
        "timeZone": "UTC",
    }
    assert unknown["error"]["responseCode"] == "ErrorMailRecipientNotFound"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (schedule_body(*[f"u{i}@contoso.test" for i in range(21)]), "ErrorMailboxDataArrayTooBig"),
        (
            schedule_body("a@contoso.test", start="2030-01-01T00:00:00", end="2030-03-05T00:00:00"),
            "ErrorTimeIntervalTooBig",
        ),
        (schedule_body("a@contoso.test", interval=2), "ErrorInvalidParameter"),
    ],
)
def test_get_schedule_limits(
    graph: httpx.Client, mailbox: str, body: dict[str, Any], code: str
) -> None:
    response = graph.post(f"/users/{mailbox}/calendar/getSchedule", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_62_days_are_allowed(graph: httpx.Client, mailbox: str) -> None:
    body = schedule_body(
        mailbox, start="2030-01-01T00:00:00", end="2030-03-04T00:00:00", interval=1440
    )
    assert graph.post(f"/users/{mailbox}/calendar/getSchedule", json=body).status_code == 200

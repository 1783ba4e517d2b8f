"""calendarView/delta: rounds, pages, changes only, @removed, expired tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.graph import GraphDouble

WINDOW = {"startDateTime": "2030-06-01T00:00:00Z", "endDateTime": "2030-07-01T00:00:00Z"}


def day(number: int, hour: int = 9) -> datetime:
    return datetime(2030, 6, number, hour, tzinfo=UTC)


def round_of(
    graph: httpx.Client, first_url: str, **params: str
) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks to the deltaLink: (items, deltaLink, pages)."""
    headers = {"Prefer": "odata.maxpagesize=2"}
    body = graph.get(first_url, params=params or None, headers=headers).json()
    items, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        body = graph.get(body["@odata.nextLink"], headers=headers).json()
        items += body["value"]
        pages += 1
    return items, body["@odata.deltaLink"], pages


def test_first_round_lists_the_window_in_pages(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    inside = [
        double.add_foreign_event(mailbox, f"e{i}", day(2 + i), day(2 + i, 10)) for i in range(3)
    ]
    double.add_foreign_event(
        mailbox,
        "outside",
        datetime(2030, 8, 1, 9, tzinfo=UTC),
        datetime(2030, 8, 1, 10, tzinfo=UTC),
    )
    items, delta_link, pages = round_of(graph, f"/users/{mailbox}/calendarView/delta", **WINDOW)
    assert sorted(i["id"] for i in items) == sorted(inside)
    assert pages == 2
    assert "$deltatoken=" in delta_link
    assert "subject" in items[0]


def test_later_rounds_return_only_changes(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    kept = double.add_foreign_event(mailbox, "kept", day(2), day(2, 10))
    edited = double.add_foreign_event(mailbox, "edited", day(3), day(3, 10))
    deleted = double.add_foreign_event(mailbox, "deleted", day(4), day(4, 10))
    moved_out = double.add_foreign_event(mailbox, "moved out", day(5), day(5, 10))
    _, delta_link, _ = round_of(graph, f"/users/{mailbox}/calendarView/delta", **WINDOW)

    double.edit_event(mailbox, edited, subject="edited by staff")
    double.delete_event_by_hand(mailbox, deleted)
    double.edit_event(
        mailbox,
        moved_out,
        start=datetime(2030, 9, 1, 9, tzinfo=UTC),
        end=datetime(2030, 9, 1, 10, tzinfo=UTC),
    )
    added = double.add_foreign_event(mailbox, "added", day(6), day(6, 10))
    far = double.add_foreign_event(
        mailbox, "far away", datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, 1, tzinfo=UTC)
    )

    items, next_link, _ = round_of(graph, delta_link)
    changed = {i["id"]: i for i in items if "@removed" not in i}
    removed = {i["id"] for i in items if "@removed" in i}
    assert set(changed) == {edited, added}
    assert changed[edited]["subject"] == "edited by staff"
    assert removed == {deleted, moved_out, far}  # far: changed outside the window, as documented
    assert all(i["@removed"] == {"reason": "deleted"} for i in items if "@removed" in i)
    assert kept not in changed

    again, _, _ = round_of(graph, next_link)
    assert again == []


def test_series_occurrences_in_delta(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    daily = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2030-06-10", "numberOfOccurrences": 3},
    }
    double.add_foreign_event(mailbox, "daily", day(10), day(10, 10), recurrence=daily)
    items, delta_link, _ = round_of(
        graph, f"/users/{mailbox}/calendarView/delta", **WINDOW
    )
    assert [i["type"] for i in items] == ["occurrence"] * 3
    assert graph.delete(f"/users/{mailbox}/events/{items[1]['id']}").status_code == 204
    changes, _, _ = round_of(graph, delta_link)
    assert items[1]["id"] in {c["id"] for c in changes if "@removed" in c}


def test_expired_tokens_are_410_sync_state_not_found(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    for i in range(3):
        double.add_foreign_event(mailbox, f"e{i}", day(2 + i), day(2 + i, 10))
    _, delta_link, _ = round_of(graph, f"/users/{mailbox}/calendarView/delta", **WINDOW)
    first = graph.get(
        f"/users/{mailbox}/calendarView/delta",
        params=WINDOW,
        headers={"Prefer": "odata.maxpagesize=1"},
    )
    double.expire_delta_tokens()
    for link in (delta_link, first.json()["@odata.nextLink"]):
        response = graph.get(link)
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "syncStateNotFound"
    fresh, _, _ = round_of(graph, f"/users/{mailbox}/calendarView/delta", **WINDOW)
    assert len(fresh) == 3


def test_delta_refuses_select_and_needs_a_window(graph: httpx.Client, mailbox: str) -> None:
    url = f"/users/{mailbox}/calendarView/delta"
    assert graph.get(url, params={**WINDOW, "$select": "subject"}).status_code == 400
    assert graph.get(url).status_code == 400

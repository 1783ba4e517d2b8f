"""JSON batching: payload rules, per-item results, 4 at a time, per-item throttling."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.graph import GraphDouble
from tests.graph.conftest import event_body, graph_client, token_for

JSON = {"Content-Type": "application/json"}


def get_item(item_id: str, mailbox: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "method": "GET", "url": f"/users/{mailbox}/calendar/events", **extra}


def batch(graph: httpx.Client, requests: list[dict[str, Any]]) -> httpx.Response:
    return graph.post("/$batch", json={"requests": requests})


def by_id(response: httpx.Response, status: int = 200) -> dict[str, dict[str, Any]]:
    assert response.status_code == status, response.text
    return {r["id"]: r for r in response.json()["responses"]}


@pytest.mark.parametrize(
    "requests",
    [
        [],
        [{"id": "1", "method": "GET"}],
        [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}],
        [
            {"id": "1", "method": "POST", "url": "/users/a@b.c/calendar/events", "body": {}}
        ],  # no Content-Type
        [{"id": "1", "method": "GET", "url": "/users/a@b.c/events", "dependsOn": ["9"]}],
        [
            {"id": "a", "method": "GET", "url": "/users/a@b.c/events", "dependsOn": ["b"]},
            {"id": "b", "method": "GET", "url": "/users/a@b.c/events", "dependsOn": ["a"]},
        ],
    ],
)
def test_malformed_batches_are_400(graph: httpx.Client, requests: list[dict[str, Any]]) -> None:
    assert batch(graph, requests).status_code == 400


def test_more_than_20_requests_is_400(graph: httpx.Client, mailbox: str) -> None:
    assert batch(graph, [get_item(str(i), mailbox) for i in range(20)]).status_code == 200
    response = batch(graph, [get_item(str(i), mailbox) for i in range(21)])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_ids_must_be_unique_without_regard_to_case(graph: httpx.Client, mailbox: str) -> None:
    assert batch(graph, [get_item("a", mailbox), get_item("A", mailbox)]).status_code == 400


def test_each_item_has_its_own_status_headers_and_body(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    requests: list[dict[str, Any]] = [
        {
            "id": "create",
            "method": "POST",
            "url": f"/users/{mailbox}/calendar/events",
            "headers": JSON,
            "body": event_body(),
        },
        {"id": "missing", "method": "GET", "url": f"/users/{mailbox}/events/AAMkAnope="},
        {
            "id": "after",
            "method": "GET",
            "url": f"/users/{mailbox}/events/AAMkAnope=",
            "dependsOn": ["missing"],
        },
        {
            "id": "zone",
            "method": "GET",
            "url": f"users/{mailbox}/calendar/events?$select=start",
            "headers": {"Prefer": 'outlook.timezone="Europe/Berlin"'},
            "dependsOn": ["create"],
        },
    ]
    results = by_id(batch(graph, requests))
    assert results["create"]["status"] == 201
    assert results["create"]["body"]["subject"] == "Haircut"
    assert results["missing"]["status"] == 404
    assert results["missing"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert results["after"]["status"] == 424
    assert results["zone"]["status"] == 200
    assert results["zone"]["body"]["value"][0]["start"]["timeZone"] == "Europe/Berlin"
    assert len(double.events(mailbox)) == 1
    assert double.stats.batch_items == 4
    assert double.stats.requests == 1


def test_items_run_at_most_four_at_a_time_with_latency_each(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    double.latency_seconds = 0.2
    started = time.monotonic()
    results = by_id(batch(graph, [get_item(str(i), mailbox) for i in range(8)]))
    elapsed = time.monotonic() - started
    assert {r["status"] for r in results.values()} == {200}
    assert double.stats.peak_in_flight[mailbox] == 4
    assert elapsed >= 0.4  # two rounds of four


def test_items_count_against_the_mailbox_concurrency(double: GraphDouble, mailbox: str) -> None:
    token = token_for(double)
    with (
        graph_client(double, token) as client,
        graph_client(double, token) as other,
        ThreadPoolExecutor(1) as pool,
    ):
        for connected in (client, other):  # TCP and TLS set up before the race
            assert connected.get("/subscriptions").status_code == 200
        double.latency_seconds = 2.0

        def single() -> int:
            deadline = time.monotonic() + 30
            while double.stats.peak_in_flight[mailbox] < 4:  # the batch holds its four places
                assert time.monotonic() < deadline, "the batch never took its places"
                time.sleep(0.005)
            return other.get(f"/users/{mailbox}/calendar/events").status_code

        late = pool.submit(single)
        results = by_id(batch(client, [get_item(str(i), mailbox) for i in range(4)]))
    assert {r["status"] for r in results.values()} == {200}
    assert late.result() == 429


def test_items_are_throttled_one_by_one(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    double.faults.seed(3)
    double.faults.throttle_rate = 0.5
    double.faults.retry_after_seconds = 5  # the follow-up below comes well inside it
    answer = batch(graph, [get_item(str(i), mailbox) for i in range(10)])
    results = by_id(answer, status=424)  # throttling: "fails with a status code of 424"
    throttled = [r for r in results.values() if r["status"] == 429]
    assert 0 < len(throttled) < 10
    assert all(r["headers"]["Retry-After"] == "5" for r in throttled)
    assert double.stats.early_requests == 0  # siblings in one batch are not early
    double.faults.throttle_rate = 0.0
    batch(graph, [get_item("again", mailbox)])
    assert double.stats.early_requests == 1


def test_a_batch_throttled_as_a_whole_is_424_without_items(
    graph: httpx.Client, mailbox: str, double: GraphDouble
) -> None:
    double.faults.batch_throttle_rate = 1.0
    answer = batch(graph, [get_item(str(i), mailbox) for i in range(3)])
    assert answer.status_code == 424
    assert "responses" not in answer.json()
    assert float(answer.headers["Retry-After"]) > 0
    assert double.stats.batch_items == 0  # nothing ran

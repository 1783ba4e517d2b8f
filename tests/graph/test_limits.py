"""Outlook's limits and the injectable faults: concurrency, throttling, outages, drops, hangs."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.graph import GraphDouble
from tests.graph.conftest import event_body, graph_client, token_for


def list_status(client: httpx.Client, mailbox: str) -> httpx.Response:
    return client.get(f"/users/{mailbox}/calendar/events")


def connected_clients(double: GraphDouble, count: int) -> list[httpx.Client]:
    """Clients past their TCP and TLS set-up, so their next requests start together."""
    token = token_for(double)
    clients = [graph_client(double, token) for _ in range(count)]
    for client in clients:
        assert client.get("/subscriptions").status_code == 200  # no mailbox: takes no place
    return clients


def test_a_fifth_concurrent_request_to_a_mailbox_is_429(double: GraphDouble, mailbox: str) -> None:
    clients = connected_clients(double, 6)
    double.latency_seconds = 2.0  # the admitted four are still in flight when the rest arrive
    together = threading.Barrier(len(clients))

    def one(client: httpx.Client) -> httpx.Response:
        together.wait()
        return list_status(client, mailbox)

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            responses = list(pool.map(one, clients))
    finally:
        for client in clients:
            client.close()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 429, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in refused.json()["error"]["message"]
    assert float(refused.headers["Retry-After"]) > 0
    # A refused request is in flight only for the moment it takes to refuse it.
    assert double.stats.peak_in_flight[mailbox] == 5
    assert double.stats.throttled == 2


def test_other_mailboxes_are_not_affected(double: GraphDouble, mailbox: str) -> None:
    double.latency_seconds = 0.3
    token = token_for(double)
    mailboxes = [mailbox] * 4 + ["someone-else@contoso.test"] * 4

    def one(user: str) -> int:
        with graph_client(double, token) as client:
            return list_status(client, user).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, mailboxes)) == {200}


def test_throttle_fault_and_early_requests(
    double: GraphDouble, graph: httpx.Client, mailbox: str
) -> None:
    double.faults.throttle_rate = 1.0
    double.faults.retry_after_seconds = 2
    first = list_status(graph, mailbox)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert double.stats.early_requests == 0
    list_status(graph, mailbox)  # too soon
    assert double.stats.early_requests == 1
    time.sleep(2.05)
    double.faults.throttle_rate = 0.0
    assert list_status(graph, mailbox).status_code == 200
    assert double.stats.early_requests == 1
    assert double.stats.throttled == 2


def test_unavailable_fault(double: GraphDouble, graph: httpx.Client, mailbox: str) -> None:
    double.faults.unavailable_rate = 1.0
    response = list_status(graph, mailbox)
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_faults_limited_to_one_mailbox(
    double: GraphDouble, graph: httpx.Client, mailbox: str
) -> None:
    double.faults.throttle_rate = 1.0
    double.faults.only_mailbox = mailbox
    assert list_status(graph, mailbox).status_code == 429
    assert list_status(graph, "bystander@contoso.test").status_code == 200


def test_seeded_faults_repeat(double: GraphDouble, graph: httpx.Client, mailbox: str) -> None:
    double.faults.throttle_rate = 0.5
    double.faults.retry_after_seconds = 0.0

    def run() -> list[int]:
        double.faults.seed(42)
        return [list_status(graph, mailbox).status_code for _ in range(12)]

    first = run()
    assert set(first) == {200, 429}
    assert run() == first


def test_drop_after_commit_creates_the_event_but_gives_no_answer(
    double: GraphDouble, graph: httpx.Client, mailbox: str
) -> None:
    double.faults.drop_after_commit = 1
    body = event_body(transactionId="dropped-once")
    with pytest.raises(httpx.TransportError):
        graph.post(f"/users/{mailbox}/calendar/events", json=body)
    assert len(double.events(mailbox)) == 1
    retried = graph.post(f"/users/{mailbox}/calendar/events", json=body)
    assert retried.status_code == 201
    assert [e["id"] for e in double.events(mailbox)] == [retried.json()["id"]]


def test_timeout_fault_hangs_without_performing(double: GraphDouble, mailbox: str) -> None:
    double.faults.timeout_rate = 1.0
    with graph_client(double, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"/users/{mailbox}/calendar/events", json=event_body())
    double.faults.clear()
    assert double.events(mailbox) == []
    with graph_client(double) as client:
        assert list_status(client, mailbox).status_code == 200


def test_latency_is_added_to_each_request(
    double: GraphDouble, graph: httpx.Client, mailbox: str
) -> None:
    double.latency_seconds = 0.3
    started = time.monotonic()
    assert list_status(graph, mailbox).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_request_rate_limit(double: GraphDouble, graph: httpx.Client, mailbox: str) -> None:
    limits = double._state.limits
    limits.rate_limit = (3, 60.0)
    try:
        statuses = [list_status(graph, mailbox).status_code for _ in range(4)]
    finally:
        limits.rate_limit = (10_000, 600.0)
    assert statuses == [200, 200, 200, 429]


def test_stats_count_and_log(double: GraphDouble, graph: httpx.Client, mailbox: str) -> None:
    list_status(graph, mailbox)
    graph.post(f"/users/{mailbox}/calendar/events", json=event_body())
    assert double.stats.requests == 2
    assert double.stats.requests_by_mailbox[mailbox] == 2
    assert [(m, s) for _, m, _, s in double.stats.log] == [("GET", 200), ("POST", 201)]
    tokens_before = double.stats.token_requests
    token_for(double)
    assert double.stats.token_requests == tokens_before + 1
    assert double.stats.requests == 2  # Graph requests only
    double.stats.reset()
    assert double.stats.requests == 0
    assert double.stats.log == []

"""Graph's notification endpoints (/push/m365/..., and /graph/... where subscriptions made
before point), open to anyone on the internet: bounded bodies and item lists (413), deep
JSON refused (400), unknown subscriptions refused in one step with one log line, and
nothing there at all without a Microsoft 365 account (404)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY

from connectors.m365.push import MAX_BODY_BYTES, MAX_ITEMS
from syncd.api import create_app
from syncd.config import load_config
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.dbs import database_url

__all__ = ["database_url"]

M365 = {"SYNCD_CONNECTORS__OFFICE__KIND": "m365", "SYNCD_CONNECTORS__OFFICE__TENANT_ID": "t1",
        "SYNCD_CONNECTORS__OFFICE__CLIENT_ID": "c1",
        "SYNCD_CONNECTORS__OFFICE__CLIENT_SECRET_ENV": "SYNCD_TEST_GRAPH_SECRET"}
ENDPOINTS = ("/push/m365/notifications", "/push/m365/lifecycle",
             "/graph/notifications", "/graph/lifecycle")


def _client(database_url: str, connectors: dict[str, str]) -> Iterator[ApiClient]:
    environ = {"SYNCD_DATABASE__URL": database_url, "SYNCD_API__KEY_ENV": "SYNCD_TEST_KEY",
               **connectors}
    runtime = build_runtime(load_config(None, environ=environ))
    upgrade(runtime.engine)
    with ApiClient(create_app(runtime)) as client:
        yield client
    runtime.close()


@pytest.fixture
def graph(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiClient]:
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    yield from _client(database_url, M365)


def unknown(count: int) -> dict[str, list[dict[str, str]]]:
    return {"value": [{"subscriptionId": f"sub-{n:08d}", "clientState": "guess",
                       "changeType": "updated", "resource": "Users/x/Events/y"}
                      for n in range(count)]}


def rejected() -> float:
    value = REGISTRY.get_sample_value(
        "syncd_graph_notifications_total", {"kind": "change", "outcome": "rejected"})
    return value or 0.0


def test_without_a_microsoft_365_account_nothing_is_there(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    for client in _client(database_url, {"SYNCD_CONNECTORS__LOCAL__KIND": "memory"}):
        for path in ENDPOINTS:
            assert client.post(path, json=unknown(1)).status_code == 404
            assert client.post(path, params={"validationToken": "t"}).status_code == 404


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unknown_subscriptions_are_refused_with_one_log_line(
    graph: ApiClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = rejected()
    with caplog.at_level(logging.INFO, logger="syncd"):
        answer = graph.post(path, json=unknown(MAX_ITEMS))
    assert answer.status_code == 403
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert str(MAX_ITEMS) in refusals[0].getMessage()
    if path.endswith("notifications"):
        assert rejected() - before == MAX_ITEMS


@pytest.mark.parametrize("path", ENDPOINTS)
def test_too_many_items_or_bytes_are_refused_unread(graph: ApiClient, path: str) -> None:
    assert graph.post(path, json=unknown(MAX_ITEMS + 1)).status_code == 413
    body = json.dumps(unknown(10_000)).encode()
    assert len(body) > MAX_BODY_BYTES
    assert graph.post(path, content=body).status_code == 413
    chunks = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])
    assert graph.post(path, content=_stream(chunks)).status_code == 413  # no Content-Length


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_json_is_a_bad_request(graph: ApiClient, path: str) -> None:
    depth = 50_000
    body = '{"value": ' + "[" * depth + "]" * depth + "}"
    answer = graph.post(path, content=body.encode())
    assert answer.status_code == 400
    assert "nested" in answer.text

"""config/grafana/syncd.json: a Grafana dashboard whose every query is PromQL a real
Prometheus accepts, on metrics syncd serves, with the Prometheus data source a variable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.prometheus import ALERTS, ROOT, PrometheusServer
from tests.promql import metric_names

DASHBOARD = ROOT / "config" / "grafana" / "syncd.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# What the dashboard is for (issue #22): each view, by a series it must query.
VIEWS = {
    "convergence latency": "syncd_mirror_write_seconds_bucket",
    "pending mirrors per connector": "syncd_mirrors_pending",
    "dead mirrors per connector": "syncd_mirrors_dead_lettered",
    "throttling": "syncd_remote_throttled_total",
    "Graph throttling": "syncd_graph_throttled_total",
    "Retry-After waits": "syncd_remote_throttle_wait_seconds_total",
    "Graph Retry-After waits": "syncd_graph_throttle_wait_seconds_total",
    "reconcile passes": "syncd_reconcile_passes_total",
    "conflicts": "syncd_conflicts_opened_total",
    "mail outbox depth": "syncd_mail_outbox_messages",
    "webhook outbox depth": "syncd_webhook_deliveries",
    "HTTP latency per route": "syncd_http_request_duration_seconds_bucket",
}
# Grafana's own variables, and the dashboard's, as a query would see them resolved.
RESOLVED = {"$__rate_interval": "1m", "$__interval": "1m", "$connector": ".*", "$account": ".*"}
_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*\w+\)$", re.S)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_queries() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel.get("targets", [])]


def variable_queries() -> list[str]:
    """The PromQL inside the query variables' label_values(<selector>, <label>)."""
    found = []
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            match = _LABEL_VALUES.match(variable["query"]["query"])
            assert match, variable["query"]
            found.append(match.group(1))
    return found


def queried_series() -> set[str]:
    return {name for query in panel_queries() + variable_queries() for name in metric_names(query)}


def resolved(query: str) -> str:
    for variable, value in RESOLVED.items():
        query = query.replace(variable, value)
    assert "$" not in query, f"a variable this test does not resolve: {query}"
    return query


def test_the_data_source_is_the_ds_prometheus_variable_everywhere() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for panel in panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == DATASOURCE for target in panel["targets"])
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_the_dashboard_queries_only_metrics_syncd_serves(served_series: set[str]) -> None:
    assert queried_series() - served_series == set(), "queried by syncd.json, not served"


def test_the_dashboard_shows_each_view_it_is_for() -> None:
    queried = queried_series()
    missing = {view: series for view, series in VIEWS.items() if series not in queried}
    assert missing == {}
    per_connector = [
        query for query in panel_queries()
        if re.search(r"syncd_mirrors_(pending|dead_lettered)\{", query)
        and "by (connector, account)" in query
    ]
    assert len(per_connector) >= 2, "pending and dead mirrors per connector and account"


def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, (panel["title"], taken[(x, y)])
                taken[(x, y)] = panel["title"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with PrometheusServer(tmp_path_factory.mktemp("prometheus"), [], ALERTS) as server:
        yield server


def test_a_real_prometheus_accepts_every_query(prometheus: PrometheusServer) -> None:
    for query in panel_queries() + variable_queries():
        prometheus.query(resolved(query))  # an error answers 400: raises


def test_the_metric_name_reader_sees_what_a_query_selects() -> None:
    """The checks above can fail: names outside syncd, histogram series, offsets, grouping."""
    query = (
        'histogram_quantile(0.95, sum by (le, route) (rate(syncd_a_bucket{route=~"$route"}'
        "[$__rate_interval]))) / on (instance) group_left up offset 15m > 1e3"
    )
    assert metric_names(query) == {"syncd_a_bucket", "up"}
    assert metric_names('max by (connector) (syncd_b{state="paused"}) > bool 1') == {"syncd_b"}


"""A connector's reports reach the daemon's counters once it counts them, and nothing before."""

from __future__ import annotations

from prometheus_client import REGISTRY

from connectors.instrumentation import Observer, observer
from syncd.ops.connector_metrics import count_connector_reports


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def graph_samples() -> list[float]:
    return [
        sample("syncd_graph_requests_total", kind="single"),
        sample("syncd_graph_requests_total", kind="batch"),
        sample("syncd_graph_not_sent_total"),
        sample("syncd_graph_throttled_total", status="429"),
        sample("syncd_graph_throttle_wait_seconds_total"),
        sample("syncd_graph_fallbacks_total", form="delta"),
        sample("syncd_graph_notifications_total", kind="lifecycle", outcome="rejected"),
        sample("syncd_graph_subscriptions_total", action="renew", outcome="failed"),
    ]


def report_everything(reports: Observer) -> None:
    reports.request_sent("single")
    reports.request_sent("batch")
    reports.request_not_sent()
    reports.throttled(429)
    reports.throttle_waited(1.5)
    reports.fell_back("delta")
    reports.notified("lifecycle", "rejected", 3)
    reports.subscription_kept("renew", "failed")


def test_each_graph_report_lands_in_its_counter() -> None:
    count_connector_reports()
    before = graph_samples()
    report_everything(observer("m365"))
    after = graph_samples()
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1, 1.5, 1, 3, 1]


def test_a_kind_nobody_counts_reports_into_nothing() -> None:
    count_connector_reports()
    before = graph_samples()
    report_everything(observer("a-kind-nobody-counts"))
    assert graph_samples() == before

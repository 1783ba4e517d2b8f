"""The connectors' reports (connectors/instrumentation.py) counted as this process's metrics.

Only the Graph connector reports its traffic; its counters are the syncd_graph_* ones.
"""

from __future__ import annotations

from connectors.instrumentation import Observer, install
from syncd import metrics


class GraphMetrics(Observer):
    """The Graph (m365) connector's reports as Prometheus counters."""

    def request_sent(self, form: str) -> None:
        metrics.GRAPH_REQUESTS.labels(form).inc()

    def request_not_sent(self) -> None:
        metrics.GRAPH_NOT_SENT.inc()

    def throttled(self, status: int) -> None:
        metrics.GRAPH_THROTTLED.labels(str(status)).inc()

    def throttle_waited(self, seconds: float) -> None:
        metrics.GRAPH_THROTTLE_WAIT.inc(seconds)

    def fell_back(self, form: str) -> None:
        metrics.GRAPH_FALLBACKS.labels(form).inc()

    def notified(self, notice: str, outcome: str, count: int) -> None:
        metrics.GRAPH_NOTIFICATIONS.labels(notice, outcome).inc(count)

    def subscription_kept(self, action: str, outcome: str) -> None:
        metrics.GRAPH_SUBSCRIPTIONS.labels(action, outcome).inc()


def count_connector_reports() -> None:
    """Count what connectors report from now on in this process."""
    install("m365", GraphMetrics())

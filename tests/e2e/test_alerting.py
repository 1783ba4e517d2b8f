"""The alerting rules against the real thing: a Prometheus (Debian's) scrapes a running
`syncd run`; the CalDAV server stops while a booking change waits for it, and
SyncdCalendarUnreachable fires; the server returns, the change is written, and it resolves.

The rules are config/prometheus/alerts.yml's, expressions unchanged, with every `for:`
cut to a few seconds (tests/prometheus.py quick_rules) so the test takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import MERCHANT, booking_body
from tests.e2e.conftest import wait_until
from tests.metrics_daemon import MetricsDaemon
from tests.ops.conftest import samples
from tests.prometheus import ALERTS, PROMETHEUS, PrometheusServer, quick_rules, require
from tests.servers import RadicaleServer

ALERT = "SyncdCalendarUnreachable"
ACCOUNT = "work"  # the [connectors.<name>] table: the alert's `account` label
FOR_SECONDS = 2
WAIT_SECONDS = 30.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def set_up_shop(daemon: MetricsDaemon, server: RadicaleServer) -> None:
    binding = {"connector": ACCOUNT, "calendar_id": server.collection_path("alice")}
    for path, body in (
        ("", {"name": "Salon", "timezone": "Europe/Berlin"}),
        ("/services/cut", {"name": "Haircut", "duration_minutes": 30}),
        ("/staff/alice", {"name": "Alice", "timezone": "Europe/Berlin"}),
        ("/staff/alice/calendars/work", binding),
    ):
        daemon.put(MERCHANT.removeprefix("/api/v1") + path, body)


def book(daemon: MetricsDaemon, key: str, start: str) -> None:
    daemon.put(f"{MERCHANT.removeprefix('/api/v1')}/bookings/{key}", booking_body(start=start))


def pending(daemon: MetricsDaemon) -> float | None:
    """The account's waiting events as syncd serves them (None before the first reading)."""
    found = [
        s.value for s in samples(daemon.scrape(), "syncd_mirrors_pending")
        if s.labels.get("account") == ACCOUNT
    ]
    return found[0] if found else None


class AlertWatch:
    """Polls Prometheus's alerts, remembering every alert name it ever saw."""

    def __init__(self, prometheus: PrometheusServer) -> None:
        self.prometheus = prometheus
        self.seen: set[str] = set()

    def now(self, name: str) -> list[dict[str, Any]]:
        alerts = self.prometheus.alerts()
        self.seen.update(alert["labels"]["alertname"] for alert in alerts)
        return [alert for alert in alerts if alert["labels"]["alertname"] == name]

    def until(self, check: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        wait_until(lambda: check(self.now(ALERT)), WAIT_SECONDS, what)


def firing(alerts: list[dict[str, Any]]) -> bool:
    return any(alert["state"] == "firing" for alert in alerts)


def test_a_stopped_calendar_server_fires_the_unreachable_alert_and_its_return_resolves_it(
    tmp_path: Path, dav_server: RadicaleServer
) -> None:
    require(PROMETHEUS)
    rules = quick_rules(ALERTS, tmp_path / "alerts.yml", for_seconds=FOR_SECONDS)
    (tmp_path / "syncd").mkdir()
    connectors = {ACCOUNT: dav_server.connector_settings(timeout_seconds=2)}
    with (
        MetricsDaemon(tmp_path / "syncd", connectors) as daemon,
        PrometheusServer(tmp_path / "prometheus", [daemon.metrics_target], rules) as prometheus,
    ):
        set_up_shop(daemon, dav_server)
        book(daemon, "before-the-outage", "2031-01-06T10:00:00+01:00")
        wait_until(lambda: pending(daemon) == 0, WAIT_SECONDS, "the first booking written")
        wait_until(
            lambda: bool(prometheus.query(f'syncd_mirrors_pending{{account="{ACCOUNT}"}}')),
            WAIT_SECONDS, "Prometheus scraping syncd",
        )
        watch = AlertWatch(prometheus)
        assert watch.now(ALERT) == [], "a reachable calendar is not an alert"

        dav_server.stop()
        book(daemon, "during-the-outage", "2031-01-07T10:00:00+01:00")
        watch.until(firing, f"{ALERT} firing")
        [alert] = watch.now(ALERT)
        assert alert["labels"] == {
            "alertname": ALERT, "severity": "critical", "connector": "caldav", "account": ACCOUNT,
        }
        assert pending(daemon) == 1, "the change made during the outage still waits"

        dav_server.start()
        watch.until(lambda alerts: alerts == [], f"{ALERT} resolved")
        assert pending(daemon) == 0
        assert watch.seen == {ALERT}, "no other rule fired on this outage"

"""`syncd run` (tests/web/daemon.py) with the database gauges read afresh at every scrape,
and the address its metrics listener took, for a Prometheus to scrape.

    with MetricsDaemon(tmp_path, {"work": radicale.connector_settings()}) as daemon:
        daemon.metrics_target                # "127.0.0.1:<port>"
        daemon.scrape()                      # the text of /metrics
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.web.daemon import SyncdDaemon

# The listener logs where it listens before the API answers (syncd/ops/listener.py); the port
# is any free one (tests/conftest.py), so it is read there.
_LISTENING = re.compile(r"metrics on http://([\d.]+:\d+)/metrics")


class MetricsDaemon(SyncdDaemon):
    def _tables(self, connectors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        tables = super()._tables(connectors)
        tables["metrics"] = {"port": 0, "database_cache_seconds": 0}
        return tables

    @property
    def metrics_target(self) -> str:
        found = _LISTENING.findall(self.log.read_text())
        assert found, "syncd has not said where its metrics listener listens"
        return str(found[-1])

    def scrape(self) -> str:
        response = httpx.get(f"http://{self.metrics_target}/metrics", timeout=10)
        response.raise_for_status()
        return response.text

"""`syncd run` (tests/web/daemon.py) with its metrics listener on a port known in advance,
for a Prometheus to scrape, and the database gauges read afresh at every scrape.

    with MetricsDaemon(tmp_path, {"work": radicale.connector_settings()}) as daemon:
        daemon.metrics_target                # "127.0.0.1:<port>"
        daemon.scrape()                      # the text of /metrics
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port
from tests.web.daemon import SyncdDaemon


class MetricsDaemon(SyncdDaemon):
    def __init__(self, workdir: Path, connectors: dict[str, dict[str, Any]]) -> None:
        self.metrics_port = free_port()  # before the base class writes the configuration
        super().__init__(workdir, connectors)

    def _tables(self, connectors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        tables = super()._tables(connectors)
        tables["metrics"] = {"port": self.metrics_port, "database_cache_seconds": 0}
        return tables

    @property
    def metrics_target(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def scrape(self) -> str:
        response = httpx.get(f"http://{self.metrics_target}/metrics", timeout=10)
        response.raise_for_status()
        return response.text

"""Debian's Prometheus (package `prometheus`: `prometheus` and `promtool`) for tests.

    require(PROMTOOL)                        # skipped here, failed under CI=true, if missing
    rules = quick_rules(ALERTS, tmp_path / "alerts.yml", for_seconds=2)
    with PrometheusServer(tmp_path / "prom", ["127.0.0.1:9464"], rules) as prometheus:
        prometheus.alerts()                  # GET /api/v1/alerts

The server scrapes and evaluates every second, keeps its data under the folder
given, and listens on a free 127.0.0.1 port; its own service stays stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import yaml

from tests.dbs import unavailable
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "config" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "config" / "prometheus" / "alerts_test.yml"
PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
STARTUP_TIMEOUT_SECONDS = 30.0


def require(binary: Path) -> None:
    """Skip the test when Debian's prometheus package is missing; under CI=true fail it."""
    if not os.access(binary, os.X_OK):
        unavailable(f"{binary} is missing (apt-get install prometheus)")


def alerting_rules(path: Path) -> list[dict[str, Any]]:
    """The alerting rules of a rules file, in their groups' order."""
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def quick_rules(source: Path, target: Path, for_seconds: int) -> Path:
    """A copy of the rules file `source` whose `for:` durations are `for_seconds`, so that a
    test sees alerts fire within seconds; the expressions stay those of the file."""
    document = yaml.safe_load(source.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{for_seconds}s"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


class PrometheusServer:
    """A `prometheus` process scraping `targets` (host:port) and evaluating `rules`."""

    def __init__(self, data_dir: Path, targets: list[str], rules: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = data_dir / "prometheus.log"
        self.config = data_dir / "prometheus.yml"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": "syncd", "static_configs": [{"targets": targets}]},
            ],
        }))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        require(PROMETHEUS)
        command = [
            str(PROMETHEUS),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._ready():
            assert self._process is not None
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a successful answer of the HTTP API at /api/v1/<path>."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing now."""
        found: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return found

    def query(self, expression: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("query", query=expression)["result"]
        return found

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

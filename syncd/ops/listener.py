"""The metrics listener: /metrics, /healthz and /readyz on a port of their own.

Separate from the API so that it can stay private while the API is exposed,
and so that worker-only processes, which serve no API, are probed and scraped
the same way. It is a small threaded WSGI server: a scrape (with its database
reading) runs in the listener's threads and never waits on the event loop.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

from syncd import metrics as _counters  # noqa: F401 - registers the process's metrics
from syncd.config import Settings
from syncd.errors import ConfigError
from syncd.notify import metrics as _mail_metrics  # noqa: F401 - registers the mail metrics
from syncd.ops.collector import DatabaseCollector
from syncd.ops.health import Heartbeat, Readiness
from syncd.ops.worker_gauge import WorkerHeartbeatCollector
from syncd.runtime import Runtime

log = logging.getLogger("syncd.metrics")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds would drown the log."""


class MetricsListener:
    """Serves `registry` (and `readiness`, when given) on host:port in a background thread."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, readiness: Readiness | None
    ) -> None:
        self.host, self.requested_port = host, port
        self._app = _routes(registry, readiness)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve; `ConfigError` if the address cannot be had."""
        self._server = _bind(self.host, self.requested_port, self._app)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="syncd-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics on %s/metrics", self.url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _bind(host: str, port: int, app: WSGIApplication) -> WSGIServer:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        server_class = type("MetricsServer", (_ThreadingServer,), {"address_family": family[0][0]})
        return make_server(host, port, app, server_class, handler_class=_QuietHandler)
    except socket.gaierror:
        raise ConfigError([f"metrics.host: {host!r} is not an address of this host"]) from None
    except OSError as error:
        raise ConfigError([
            f"metrics.port: cannot listen on {host}:{port} ({error.strerror}); "
            "choose another port (0: any free one) or set metrics.enabled = false"
        ]) from None


def _routes(registry: CollectorRegistry, readiness: Readiness | None) -> WSGIApplication:
    scrape: WSGIApplication = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return scrape(environ, start_response)
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz" and readiness is not None:
            report = readiness.report()
            return _json(start_response, 200 if report.ready else 503, report.body())
        return _json(start_response, 404, {"error": "not found: try /metrics"})

    return app


def _json(start_response: StartResponse, status: int, body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {reason}", headers)
    return [data]


def process_registry(runtime: Runtime, worker: Heartbeat | None) -> CollectorRegistry:
    """What this process serves: its own counters, its worker loop's heartbeat where
    `worker` runs here, plus the database gauges if enabled."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REGISTRY)
    if worker is not None:
        registry.register(WorkerHeartbeatCollector(worker))
    settings = runtime.settings.metrics
    if settings.database_gauges:
        collector = DatabaseCollector(
            runtime.engine,
            connector_kinds(runtime.settings),
            cache_seconds=settings.database_cache_seconds,
            timeout_seconds=settings.database_timeout_seconds,
        )
        registry.register(collector)
    return registry


def connector_kinds(settings: Settings) -> dict[str, str]:
    return {name: str(table.get("kind", "unknown")) for name, table in settings.connectors.items()}


def start_listener(runtime: Runtime, readiness: Readiness | None) -> MetricsListener | None:
    """The process's listener, started; None when `metrics.enabled` is false."""
    settings = runtime.settings.metrics
    if not settings.enabled:
        return None
    worker = readiness.worker if readiness is not None else None
    registry = process_registry(runtime, worker)
    listener = MetricsListener(settings.host, settings.port, registry, readiness)
    listener.start()
    return listener

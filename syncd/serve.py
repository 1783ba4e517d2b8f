"""Running the daemon: the web handler and the worker in one asyncio loop.

SIGTERM and SIGINT stop both gracefully: the web handler stops accepting
requests, the worker finishes or abandons its in-flight writes within
`worker.shutdown_timeout_seconds`, and the process exits 0.

A database outage stops none of them: each loop waits with backoff and goes on
(syncd.store.outage), and a background service that an outage ends anyway is
started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, Protocol

import uvicorn

from connectors.base import Connector
from syncd.account_refresh import AccountRefresher
from syncd.ops import systemd
from syncd.ops.health import Heartbeat, Readiness, readiness_for
from syncd.ops.listener import start_listener
from syncd.runtime import Runtime
from syncd.store.listen import listen_for_wakeups
from syncd.store.outage import Backoff, outage_or_raise
from syncd.worker import Worker

log = logging.getLogger("syncd")


class BackgroundService(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class NamedService:
    """A service run beside the worker: `factory(runtime)` makes a fresh one to run."""

    name: str
    factory: Callable[[Runtime], BackgroundService]


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: syncd stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_connectors(runtime: Runtime) -> Mapping[str, Connector]:
    """The process's connectors (shared with the manage pages); closed when serving ends."""
    return runtime.connectors


def freeze_startup_objects() -> None:
    """Leave what starting made (modules, table metadata, templates, compiled statements)
    out of every later garbage collection: they live as long as the process, and the first
    full collection under load would otherwise walk all of them (about 130,000 objects,
    some 90 ms of one request's time)."""
    gc.collect()
    gc.freeze()


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`: from the process's start, so that a stop asked
    while it still waits for its database ends it as cleanly as a stop while serving."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def _web_server(runtime: Runtime, readiness: Readiness) -> EmbeddedServer:
    from syncd.api import create_app  # noqa: PLC0415 - the worker alone does not need it

    config = uvicorn.Config(
        create_app(runtime, readiness=readiness),
        host=runtime.settings.api.host,
        port=runtime.settings.api.port,
        http=http_parser(),
        log_config=None,
        lifespan="off",
        access_log=False,
    )
    log.info(
        "web handler on %s, HTTP parsed by %s",
        type(asyncio.get_running_loop()).__module__.partition(".")[0], config.http,
    )
    return EmbeddedServer(config)


def http_parser() -> Literal["httptools", "h11"]:
    """uvicorn's C parser where it is installed (its standard extras), else h11."""
    return "h11" if importlib.util.find_spec("httptools") is None else "httptools"


async def serve(
    runtime: Runtime,
    *,
    web: bool,
    worker: bool,
    stop: asyncio.Event,
    services: Sequence[NamedService],
) -> None:
    """Serve until `stop` (set by `stop_on_signals`); `services` run beside the worker
    (none without it)."""
    heartbeat = Heartbeat() if worker else None
    sweep = runtime.settings.worker.sweep_interval_seconds
    readiness = readiness_for(runtime.engine, heartbeat, sweep)
    metrics = start_listener(runtime, readiness)
    try:
        await _serve_until_stopped(runtime, readiness, heartbeat, stop, web=web, services=services)
    finally:
        if metrics is not None:
            metrics.stop()


async def _serve_until_stopped(
    runtime: Runtime,
    readiness: Readiness,
    heartbeat: Heartbeat | None,
    stop: asyncio.Event,
    *,
    web: bool,
    services: Sequence[NamedService],
) -> None:
    connectors = build_connectors(runtime)
    server = _web_server(runtime, readiness) if web else None
    worker_connectors = connectors if heartbeat is not None else None
    freeze_startup_objects()
    tasks = _start(
        runtime, worker_connectors, server, stop, heartbeat=heartbeat, services=services
    )
    ready = asyncio.create_task(systemd.notify_when_ready(_started(server, heartbeat), stop))
    try:
        await _until_stopped_or_failed(tasks, stop)
    finally:
        systemd.notify("STOPPING=1")
        ready.cancel()
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.aclose_connectors()
    log.info("stopped")


def _started(
    server: EmbeddedServer | None, heartbeat: Heartbeat | None
) -> list[Callable[[], bool]]:
    """What must hold before systemd hears READY=1: the web server listens, the worker
    loop went round once."""
    conditions: list[Callable[[], bool]] = []
    if server is not None:
        conditions.append(lambda: server.started)
    if heartbeat is not None:
        conditions.append(lambda: heartbeat.seconds_since() is not None)
    return conditions


def _start(
    runtime: Runtime,
    connectors: Mapping[str, Connector] | None,
    server: EmbeddedServer | None,
    stop: asyncio.Event,
    *,
    heartbeat: Heartbeat | None = None,
    services: Sequence[NamedService] = (),
) -> list[asyncio.Task[None]]:
    # every process, web alone too: its API binds calendars of stored accounts
    refresher = partial(AccountRefresher, runtime)
    tasks = [asyncio.create_task(_kept_running("accounts", refresher, stop), name="accounts")]
    if server is not None:
        tasks.append(asyncio.create_task(server.serve(), name="web"))
    if connectors is not None:
        worker = Worker(runtime, connectors, heartbeat=heartbeat)
        tasks.append(asyncio.create_task(worker.run(stop), name="worker"))
        for named in services:
            service = partial(named.factory, runtime)
            tasks.append(
                asyncio.create_task(_kept_running(named.name, service, stop), name=named.name)
            )
        if runtime.engine.dialect.name == "postgresql":
            # Commits of other processes (a separate `syncd web`) wake this one's loops.
            listener = listen_for_wakeups(runtime.settings.database.url, runtime.waker, stop)
            tasks.append(asyncio.create_task(listener, name="listen"))
    return tasks


async def _kept_running(
    name: str, service: Callable[[], BackgroundService], stop: asyncio.Event
) -> None:
    """Run a fresh `service()` again whenever a database outage ends it, until `stop`.

    The services wait out an outage themselves; this is the net for one met where
    they do not look for it (starting, shutting down)."""
    backoff = Backoff(name)
    while True:
        try:
            await service().run(stop)
        except Exception as error:
            outage = outage_or_raise(error)
            if stop.is_set():
                return
            log.warning("%s stopped by an outage (%s); starting it again", name, outage)
            await backoff.wait(outage, stop)
        else:
            return


async def _until_stopped_or_failed(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    for task in done - {stopped}:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
        raise RuntimeError(f"{task.get_name()} stopped unexpectedly")

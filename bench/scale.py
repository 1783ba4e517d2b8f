"""Scale-out: N bookings written by 1, 2 and 4 `syncd worker` processes on PostgreSQL.

    .venv/bin/python bench/scale.py [--bookings 3000] [--workers 1,2,4] [--targets caldav,graph]

Each run gets a fresh PostgreSQL schema and fresh calendars. The bookings are
stored first, with their calendars held back (paused); the workers start and
report READY; the clock starts at the commit that releases every calendar
(with NOTIFY, as any commit of work) and stops when the store reports nothing
pending. Then every calendar is read back: each booking must have its event.

The point is how throughput grows with workers when the calendars, not the
database or the CPU, are the bottleneck: every request to a calendar server is
slowed by a fixed latency (CalDAV: a proxy in front of Radicale; Graph: the
double's own latency, per request and per $batch item), and each worker serves
a bounded number of calendars at a time (`worker.calendars_in_parallel`), so
one worker's ceiling is calendars x requests per calendar / latency; more
workers lease more calendars at once. Target: 2 workers >= 1.7x one worker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text, update

from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.schemas import BookingIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant
from syncd.store.models import CalendarBinding
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.timeutil import utcnow
from syncd.wakeup import WAKE_CHANNEL
from syncd.wiring import build_runtime
from tests import factories as f
from tests.caldav_listing import list_events
from tests.dav_proxy import CountingProxy
from tests.dbs import postgres_schema_url
from tests.e2e.conftest import WorkerProcess, write_config
from tests.servers import RadicaleServer

SEED_BATCH = 500
READY_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0
GRAPH_SECRET_ENV = "SYNCD_BENCH_GRAPH_SECRET"


class Target(ABC):
    """A calendar service the workers write to, slowed by a fixed latency per request."""

    name: str
    per_calendar: int  # requests syncd keeps in flight per calendar

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def connector(self) -> dict[str, Any]: ...

    @abstractmethod
    def make_calendars(self, run: str, count: int) -> list[str]: ...

    @abstractmethod
    def events_on(self, calendars: list[str]) -> int: ...

    @abstractmethod
    def peak(self, calendars: list[str]) -> int:
        """The most requests any one calendar had in flight at once."""

    def notes(self) -> str:
        """What else the server saw during the last run."""
        return ""

    def ceiling(self, calendars_per_worker: int, latency: float) -> float:
        return calendars_per_worker * self.per_calendar / latency


class CalDAVTarget(Target):
    name = "caldav"

    def __init__(self, server: RadicaleServer, proxy: CountingProxy, per_calendar: int) -> None:
        self.server, self.proxy, self.per_calendar = server, proxy, per_calendar
        self._calendars: list[str] = []

    def describe(self) -> str:
        return (
            f"Radicale behind a proxy adding {self.proxy.latency_seconds * 1000:.0f} ms to every "
            f"request; {self.per_calendar} requests in flight per calendar"
        )

    def connector(self) -> dict[str, Any]:
        limit = self.per_calendar
        return self.server.connector_settings(url=self.proxy.url, concurrency_per_calendar=limit)

    def make_calendars(self, run: str, count: int) -> list[str]:
        self._calendars = [self.server.create_collection(f"{run}c{i}") for i in range(count)]
        return self._calendars

    def notes(self) -> str:
        return f"{sum(self.proxy.requests[path] for path in self._calendars)} requests"

    def events_on(self, calendars: list[str]) -> int:
        return sum(len(list_events(self.server, path)) for path in calendars)

    def peak(self, calendars: list[str]) -> int:
        return max(self.proxy.peak.get(path, 0) for path in calendars)


class GraphTarget(Target):
    name = "graph"
    per_calendar = 4  # Outlook's concurrent requests per mailbox; writes go in $batches

    def __init__(self, double: Any) -> None:
        self.double = double
        os.environ[GRAPH_SECRET_ENV] = double.client_secret

    def describe(self) -> str:
        return (
            f"the Graph double adding {self.double.latency_seconds * 1000:.0f} ms to every request "
            "and $batch item; 4 requests per mailbox at a time (Outlook's limit), $batch of 20"
        )

    def connector(self) -> dict[str, Any]:
        return {
            "kind": "m365",
            "tenant_id": self.double.tenant_id,
            "client_id": self.double.client_id,
            "client_secret_env": GRAPH_SECRET_ENV,
            "authority_host": self.double.base_url,
            "graph_url": self.double.graph_url,
            "ca_file": self.double.ca_file,
        }

    def events_on(self, calendars: list[str]) -> int:
        return sum(len(self.double.events(mailbox)) for mailbox in calendars)

    def peak(self, calendars: list[str]) -> int:
        peaks = self.double.stats.peak_in_flight
        return max(peaks.get(mailbox, 0) for mailbox in calendars)

    def make_calendars(self, run: str, count: int) -> list[str]:
        self.double.stats.reset()
        mailboxes = [f"{run}u{i}@contoso.test" for i in range(count)]
        for mailbox in mailboxes:
            self.double.add_mailbox(mailbox)
        return mailboxes

    def notes(self) -> str:
        stats = self.double.stats
        return (
            f"{stats.requests} requests ({stats.batch_items} batch items), "
            f"{stats.throttled} throttled, {stats.early_requests} sent before Retry-After"
        )


@dataclass(frozen=True)
class Result:
    workers: int
    seconds: float
    bookings: int
    peak: int
    worker_cpu_seconds: float
    notes: str

    @property
    def per_second(self) -> float:
        return self.bookings / self.seconds


def booking_body(staff: str, index: int) -> BookingIn:
    """No customer address: the run measures calendar writes, not mail."""
    start = f.slot(index)
    customer = {"name": "Customer", "timezone": "Europe/Paris"}
    return BookingIn.model_validate(
        {"service": "cut", "staff": staff, "start": start.isoformat(), "customer": customer}
    )


def seed(runtime: Runtime, calendars: list[str], bookings: int) -> None:
    """Staff bound to `calendars`, held back, and the bookings, round robin."""
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for i, calendar in enumerate(calendars):
            f.staff_with_calendar(session, shop, f"s{i}", calendar)
        hold_calendars(session, until=utcnow() + timedelta(days=1))
    for first in range(0, bookings, SEED_BATCH):
        with runtime.sessions.begin() as session:
            shop = get_merchant(session, "acme")
            for i in range(first, min(first + SEED_BATCH, bookings)):
                staff = f"s{i % len(calendars)}"
                put_booking(session, shop, f"b{i}", booking_body(staff, i // len(calendars)))


def hold_calendars(session: Any, until: Any) -> None:
    session.execute(update(CalendarBinding).values(paused_until=until))


def release_calendars(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        hold_calendars(session, until=None)
        session.execute(text(f"NOTIFY {WAKE_CHANNEL}"))


def pending(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return count_pending(session)


def wait_ready(worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while " syncd: ready" not in worker.log.read_text(errors="replace"):
        if time.monotonic() > deadline or (worker.process and worker.process.poll() is not None):
            raise RuntimeError(f"worker did not start:\n{worker.log.read_text()[-3000:]}")
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(
    target: Target, workers: int, args: argparse.Namespace, workdir: Path, run: str
) -> Result:
    with postgres_schema_url() as database:
        config = write_config(
            workdir / f"{run}.toml",
            database,
            target.connector(),
            calendars_in_parallel=args.calendars_per_worker,
            lease_seconds=30.0,
        )
        runtime = build_runtime(load_config(config, environ={}))
        try:
            upgrade(runtime.engine)
            calendars = target.make_calendars(run, args.calendars)
            seed(runtime, calendars, args.bookings)
            with started_workers(config, workdir, run, workers) as processes:
                seconds = timed_convergence(runtime)
                cpu = sum(cpu_seconds(p.process.pid) for p in processes if p.process)
        finally:
            runtime.close()
    written = target.events_on(calendars)
    if written != args.bookings:
        raise AssertionError(f"{written} events written for {args.bookings} bookings")
    return Result(workers, seconds, args.bookings, target.peak(calendars), cpu, target.notes())


@contextlib.contextmanager
def started_workers(
    config: Path, workdir: Path, run: str, count: int
) -> Iterator[list[WorkerProcess]]:
    processes = [WorkerProcess(config, workdir / f"{run}-worker{i}.log") for i in range(count)]
    try:
        for process in processes:
            process.start()
        for process in processes:
            wait_ready(process)
        yield processes
    finally:
        for process in processes:
            if process.process is not None and process.process.poll() is None:
                process.process.send_signal(signal.SIGTERM)
        for process in processes:
            if process.process is not None and process.process.wait(timeout=30) != 0:
                print(f"  a worker exited with {process.process.returncode}; see {process.log}")


def timed_convergence(runtime: Runtime) -> float:
    started = time.perf_counter()
    release_calendars(runtime)
    while pending(runtime):
        if time.perf_counter() - started > RUN_TIMEOUT:
            raise AssertionError(f"{pending(runtime)} still pending after {RUN_TIMEOUT}s")
        time.sleep(0.05)
    return time.perf_counter() - started


def report(target: Target, results: list[Result], args: argparse.Namespace, latency: float) -> None:
    ceiling = target.ceiling(args.calendars_per_worker, latency)
    print(f"\n{target.name}: {target.describe()}")
    print(f"  one worker's ceiling: {args.calendars_per_worker} calendars x "
          f"{target.per_calendar} / {latency:g}s = {ceiling:.0f} writes/s")
    print("  workers  seconds  writes/s  vs 1 worker  peak/calendar  worker cpu s")
    base = results[0].per_second
    for r in results:
        print(f"  {r.workers:>7}  {r.seconds:7.1f}  {r.per_second:8.1f}  "
              f"{r.per_second / base:10.2f}x  {r.peak:>13}  {r.worker_cpu_seconds:12.1f}")
    two = next((r for r in results if r.workers == 2), None)
    if two is not None and results[0].workers == 1:
        verdict = "met" if two.per_second / base >= 1.7 else "NOT met"
        print(f"  2 workers / 1 worker = {two.per_second / base:.2f}x (target >= 1.7x: {verdict})")


def run_target(target: Target, args: argparse.Namespace, workdir: Path, latency: float) -> None:
    results = []
    for n, workers in enumerate(args.workers):
        result = run_once(target, workers, args, workdir, f"{target.name}{n}")
        print(f"  {target.name}: {workers} worker(s): {result.seconds:.1f}s "
              f"({result.per_second:.0f} writes/s) {result.notes}")
        results.append(result)
    report(target, results, args, latency)


@contextlib.contextmanager
def caldav_target(args: argparse.Namespace, workdir: Path) -> Iterator[Target]:
    # On tmpfs where there is one: Radicale syncs every write to disk, and the disk is not
    # what is measured.
    shm = Path("/dev/shm")
    data = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else workdir
    with (
        RadicaleServer(data / "radicale") as server,
        CountingProxy(server.url, latency_seconds=args.dav_latency) as proxy,
    ):
        yield CalDAVTarget(server, proxy, args.dav_per_calendar)
    if data != workdir:
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def graph_target(args: argparse.Namespace) -> Iterator[Target]:
    from tests.graph import GraphDouble

    with GraphDouble() as double:
        double.latency_seconds = args.graph_latency
        yield GraphTarget(double)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,4", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--targets", default="caldav,graph", type=lambda s: s.split(","))
    parser.add_argument("--calendars", type=int, default=64)
    parser.add_argument("--calendars-per-worker", type=int, default=4)
    parser.add_argument("--dav-latency", type=float, default=0.8)
    parser.add_argument("--dav-per-calendar", type=int, default=2)
    parser.add_argument("--graph-latency", type=float, default=1.6)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["SYNCD_METRICS__PORT"] = "0"  # several workers on this host
    os.environ["SYNCD_METRICS__DATABASE_GAUGES"] = "false"
    # Writes only: reconcile passes (reading the calendars back) are not what is measured.
    os.environ["SYNCD_RECONCILE__ENABLED"] = "false"
    print(f"{args.bookings} bookings over {args.calendars} calendars; PostgreSQL, a fresh schema "
          f"per run; each `syncd worker` serves at most {args.calendars_per_worker} calendars "
          f"at a time; reconciliation off; {os.cpu_count()} CPUs for everything (database, "
          "servers, workers)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["SYNCD_MAIL__DIRECTORY"] = str(workdir / "mail")
        if "caldav" in args.targets:
            with caldav_target(args, workdir) as target:
                run_target(target, args, workdir, args.dav_latency)
        if "graph" in args.targets:
            with graph_target(args) as target:
                run_target(target, args, workdir, args.graph_latency)


if __name__ == "__main__":
    main()

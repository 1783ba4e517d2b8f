"""CPU per item: a `syncd worker`'s per mirrored event against a raw httpx loop, and syncd's
reconcile, mail and webhook paths per item against their floors (bench/cost_paths.py).

    .venv/bin/python bench/cost.py [--events 10000] [--rounds 3] [--databases sqlite,postgresql]
                                   [--cases create,reschedule,move,cancel]
                                   [--paths reconcile,mail,webhooks] [--items 2000]

The paths come first (in this process; target <= 2x the floor), then the workers:

Both write to bench/fast_dav.py, a CalDAV server that does almost nothing per
request (its own CPU per request is printed too), so neither side waits on it.
syncd: the bookings and their changes are stored first with every calendar held
back; the worker (its own process, started and idle before) is released and
the clock runs until nothing is pending; its CPU is read from /proc, before and
after. The raw loop: the same requests (the same event bodies, If-None-Match on
creates, If-Match on updates and deletes, Basic auth), at the same concurrency
(4 per calendar, all calendars at once), in this process, with its CPU read the
same way. Target: syncd's CPU per event <= 1.5x the raw loop's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from cost_paths import PathCase, mail_case, reconcile_case, webhooks_case
from cost_paths import measure as measure_path
from cost_paths import report as report_paths
from scale import cpu_seconds, hold_calendars, pending, release_calendars, started_workers

from connectors.caldav.ical import event_to_ical
from syncd.config import load_config
from syncd.domain.bookings import event_spec
from syncd.runtime import Runtime
from syncd.schemas import BookingIn
from syncd.store.bookings import cancel_booking, put_booking
from syncd.store.catalog import get_merchant
from syncd.store.models import Booking
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.dbs import postgres_schema_url, sqlite_url
from tests.e2e.conftest import write_config
from tests.servers import free_port

CALENDARS = 16
PER_CALENDAR = 4
BATCH = 500
USER, PASSWORD = "bench", "bench-password"
TIMEOUT_SECONDS = 900.0


@dataclass(frozen=True)
class Request:
    calendar: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


class FastDav:
    """bench/fast_dav.py in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        script = Path(__file__).with_name("fast_dav.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.port)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("fast_dav did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def body_for(booking: Booking) -> bytes:
    return event_to_ical(event_spec(booking))


def booking_in(staff: str, index: int) -> BookingIn:
    customer = {"name": "Customer", "timezone": "Europe/Paris"}
    start = f.slot(index).isoformat()
    return BookingIn.model_validate(
        {"service": "cut", "staff": staff, "start": start, "customer": customer}
    )


def staff_of(index: int, shift: int = 0) -> str:
    return f"s{(index + shift) % CALENDARS}"


def calendar_path(index: int) -> str:
    return f"/cal{index}/"


class Store:
    """The bookings, changed case after case, and the requests each change needs."""

    def __init__(self, runtime: Runtime, events: int) -> None:
        self.runtime, self.events = runtime, events
        self.where: dict[str, int] = {}  # booking uid -> calendar index it is on

    def seed(self) -> None:
        with self.runtime.sessions.begin() as session:
            shop = f.merchant(session)
            f.service(session, shop)
            for i in range(CALENDARS):
                f.staff_with_calendar(session, shop, staff_of(i), calendar_path(i))

    def change(self, case: str) -> list[Request]:
        """Apply `case` to every booking with the calendars held; the raw loop's requests."""
        with self.runtime.sessions.begin() as session:
            hold_calendars(session, until=utcnow().replace(year=utcnow().year + 1))
        requests: list[Request] = []
        for first in range(0, self.events, BATCH):
            with self.runtime.sessions.begin() as session:
                shop = get_merchant(session, "acme")
                for i in range(first, min(first + BATCH, self.events)):
                    requests += self._apply(session, shop, case, i)
        return requests

    def _apply(self, session: object, shop: object, case: str, i: int) -> list[Request]:
        key = f"b{i}"
        if case == "cancel":
            booking = cancel_booking(session, shop, key)  # type: ignore[arg-type]
            return [self._delete(booking.uid)]
        shift = 1 if case == "move" else 0
        slot = i // CALENDARS + (CALENDARS * 4 if case == "reschedule" else 0)
        body = booking_in(staff_of(i, shift), slot)
        booking, _ = put_booking(session, shop, key, body)  # type: ignore[arg-type]
        session.flush()  # type: ignore[attr-defined]
        moved = [self._delete(booking.uid)] if case == "move" else []
        calendar = (i + shift) % CALENDARS
        return [*moved, self._put(booking, calendar, update=case == "reschedule")]

    def _put(self, booking: Booking, calendar: int, *, update: bool) -> Request:
        self.where[booking.uid] = calendar
        condition = {"If-Match": '"e0"'} if update else {"If-None-Match": "*"}
        headers = {"Content-Type": "text/calendar; charset=utf-8", **condition}
        path = f"{calendar_path(calendar)}{booking.uid}.ics"
        return Request(calendar, "PUT", path, headers, body_for(booking))

    def _delete(self, uid: str) -> Request:
        calendar = self.where.pop(uid)
        path = f"{calendar_path(calendar)}{uid}.ics"
        return Request(calendar, "DELETE", path, {"If-Match": '"e0"'})


async def raw_loop(url: str, requests: list[Request]) -> None:
    """The requests from bare httpx clients, one per calendar as syncd's connector deals
    them (connectors/caldav/pools.py), so both sides pay the same pool upkeep."""
    limits = [asyncio.Semaphore(PER_CALENDAR) for _ in range(CALENDARS)]
    clients = [
        httpx.AsyncClient(
            base_url=url, auth=(USER, PASSWORD), timeout=60,
            limits=httpx.Limits(max_connections=PER_CALENDAR),
        )
        for _ in range(CALENDARS)
    ]

    async def send(request: Request) -> None:
        async with limits[request.calendar]:
            response = await clients[request.calendar].request(
                request.method, request.path, headers=request.headers, content=request.body
            )
            response.raise_for_status()

    try:
        await asyncio.gather(*(send(r) for r in requests))
    finally:
        for client in clients:
            await client.aclose()


@dataclass
class Figures:
    syncd: list[float]  # CPU ms per event, per round
    raw: list[float]
    server: list[float]  # the server's CPU ms per request, while syncd wrote


@contextmanager
def database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        folder = workdir / name
        folder.mkdir()
        yield sqlite_url(folder)
    else:
        with postgres_schema_url() as url:
            yield url


@dataclass(frozen=True)
class Round:
    kind: str  # the database
    cases: list[str]
    events: int
    workdir: Path
    name: str


def measure_round(spec: Round, figures: dict[str, Figures]) -> None:
    kind, cases, events, workdir, name = (
        spec.kind, spec.cases, spec.events, spec.workdir, spec.name
    )
    server = FastDav()
    password = workdir / f"{name}.password"
    password.write_text(PASSWORD)
    connector = {"kind": "caldav", "url": server.url + "/", "username": USER,
                 "password_file": str(password), "concurrency_per_calendar": PER_CALENDAR}
    try:
        with database(kind, workdir, name) as url:
            config = write_config(workdir / f"{name}.toml", url, connector,
                                  calendars_in_parallel=CALENDARS, lease_seconds=60.0)
            runtime = build_runtime(load_config(config, environ={}))
            try:
                upgrade(runtime.engine)
                store = Store(runtime, events)
                store.seed()
                with started_workers(config, workdir, name, 1) as [worker]:
                    assert worker.process is not None
                    for case in cases:
                        requests = store.change(case)
                        figure = figures.setdefault(case, Figures([], [], []))
                        worked = _syncd_cpu(runtime, worker.process.pid, server, requests)
                        figure.syncd.append(worked[0] * 1000 / events)
                        figure.server.append(worked[1] * 1000 / len(requests))
                        started = time.process_time()
                        asyncio.run(raw_loop(server.url, requests))
                        figure.raw.append((time.process_time() - started) * 1000 / events)
            finally:
                runtime.close()
    finally:
        server.stop()


def _syncd_cpu(
    runtime: Runtime, pid: int, server: FastDav, requests: list[Request]
) -> tuple[float, float]:
    """The worker's and the server's CPU seconds until every change is written."""
    cpu, served = cpu_seconds(pid), server.cpu()
    release_and_converge(runtime)
    return cpu_seconds(pid) - cpu, server.cpu() - served


def release_and_converge(runtime: Runtime) -> None:
    """Release the held calendars and wait until nothing is pending."""
    if runtime.engine.dialect.name == "postgresql":
        release_calendars(runtime)  # with NOTIFY: the worker wakes at once
    else:
        with runtime.sessions.begin() as session:  # the worker sees it at its next sweep
            hold_calendars(session, until=None)
    started = time.monotonic()
    while pending(runtime):
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise AssertionError(f"still pending after {TIMEOUT_SECONDS}s")
        time.sleep(0.05)


def report(kind: str, figures: dict[str, Figures], events: int, rounds: int) -> None:
    print(f"\n{kind}: {events} events per case, median of {rounds} round(s), "
          f"{CALENDARS} calendars x {PER_CALENDAR} in flight")
    print("  case        syncd ms/event  raw ms/event  ratio   server ms/request")
    for case, figure in figures.items():
        ours, raw = statistics.median(figure.syncd), statistics.median(figure.raw)
        verdict = "met" if ours <= 1.5 * raw else "NOT met"
        print(f"  {case:<10}  {ours:14.2f}  {raw:12.2f}  {ours / raw:5.2f}x  "
              f"{statistics.median(figure.server):17.3f}   (target <= 1.5x: {verdict})")


def path_cases(names: list[str], items: int, workdir: Path) -> list[PathCase]:
    """The cases named, each over about `items` items (mail: a third as many bookings,
    each queueing three messages)."""
    makers = {
        "reconcile": lambda: reconcile_case(items),
        "mail": lambda: mail_case(workdir, max(items // 3, 1)),
        "webhooks": lambda: webhooks_case(workdir, items),
    }
    return [makers[name]() for name in names]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        type=lambda s: [name for name in s.split(",") if name])
    parser.add_argument("--cases", default="create,reschedule,move,cancel",
                        type=lambda s: s.split(","))
    parser.add_argument("--paths", default="reconcile,mail,webhooks",
                        type=lambda s: [name for name in s.split(",") if name])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["SYNCD_METRICS__PORT"] = "0"
    os.environ["SYNCD_METRICS__DATABASE_GAUGES"] = "false"
    os.environ["SYNCD_RECONCILE__ENABLED"] = "false"  # writes only
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["SYNCD_MAIL__DIRECTORY"] = str(workdir / "mail")
        if args.paths:
            paths = [measure_path(case, args.rounds)
                     for case in path_cases(args.paths, args.items, workdir)]
            report_paths(paths, args.rounds)
            print(f"  (load {load()})")
        for kind in args.databases:
            figures: dict[str, Figures] = {}
            for round_no in range(args.rounds):
                spec = Round(kind, args.cases, args.events, workdir, f"{kind}{round_no}")
                measure_round(spec, figures)
                print(f"  {kind} round {round_no + 1} done (load {load()})")
            report(kind, figures, args.events, args.rounds)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()

"""The customer's manage pages under load: against their own floor, and on both HTTP stacks.

    .venv/bin/python bench/manage_web.py [--requests 6000] [--slot-requests 1000]
                                         [--concurrency 16] [--slices 12]

The store: a SQLite file with 100 staff members (each with working hours and a
calendar on the in-memory connector, holding some busy time of its own) and
10,000 bookings, seeded directly through the store. syncd runs in a child
process as `syncd web` runs it (create_app under uvicorn, same settings); the
load comes from this process, a bounded asyncio loop of GETs to 127.0.0.1 with
a fixed number of keep-alive connections, each with one request in flight,
sent and read with h11 alone so that the client costs much less than the
server (through httpx, the client ran out of CPU before the server did, and
the figures were the client's).

Measured side by side: each target's requests are split into slices, and the
slices of the targets alternate (details, details-h11, slots, floor, details,
...), so that the shared machine's changing speed falls on all of them alike;
each figure pools all of a target's slices. (Whole rounds of one target at a
time, a second or two each, drifted apart by a quarter on this machine.)
- details:     GET /manage/{token} for one booking among the 10,000, served as syncd
               serves it: uvicorn's standard extras (httptools parsing, uvloop's loop);
- details-h11: the same page from the same app on uvicorn's plain stack (h11 on
               asyncio's own loop), what syncd falls back to without the extras;
- slots:       GET /manage/{token}/reschedule?date=... (the day's free times and the
               days of its fortnight that have any, from working hours, the staff
               member's bookings and calendar busy time), standard stack;
- floor:       the details page with no framework at all: a raw ASGI app, on the
               standard stack, that runs syncd's own read, page and template for the
               token and adds the security headers; no routing, middleware, metrics or
               error handling: what the page could reach at best.
Targets: details >= 85% of the floor's requests per second; details >= 1.8x
details-h11's; slots p99 <= 10x details p99. Also shown: the server process's
CPU time per request, which other load on the machine changes far less than
throughput and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h11
import httpx
import uvicorn
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.memory import MemoryConnector
from syncd.config import Settings
from syncd.domain.bookings import event_uid
from syncd.domain.manage_rules import rules_at_booking
from syncd.manage.tokens import issue_token
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.catalog import upsert_binding, upsert_merchant, upsert_service, upsert_staff
from syncd.store.models import Booking, Merchant, Service, Staff
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.servers import free_port

STARTUP_TIMEOUT_SECONDS = 30.0
STAFF = 100
BOOKINGS = 10_000
DAYS = 50  # the bookings and the calendars' own busy time spread over this many days
BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WARM_UP_PER_CONNECTION = 5


@dataclass(frozen=True)
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: list[float]  # seconds, one per request
    server_cpu: float  # CPU seconds the server process spent meanwhile: immune to other load

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def line(self) -> str:
        p50, p99 = self.percentile(0.50) * 1000, self.percentile(0.99) * 1000
        cpu = self.server_cpu / self.requests * 1000
        return (f"{self.name:<11} {self.per_second:8.0f} req/s   p50 {p50:7.2f} ms   "
                f"p99 {p99:7.2f} ms   server CPU {cpu:5.2f} ms/req   "
                f"({self.requests} requests in {self.seconds:.1f}s)")


# ---- the store ----------------------------------------------------------------------------


def bench_settings(database: str) -> Settings:
    return Settings.model_validate({
        "database": {"url": f"sqlite:///{database}"},
        "manage": {"public_url": "http://127.0.0.1"},
        "connectors": {"local": {"kind": "memory"}},
    })


def bench_runtime(database: str) -> Runtime:
    """The runtime the server uses: staff calendars on an in-memory connector with busy time."""
    runtime = build_runtime(bench_settings(database))
    runtime.connectors = {"local": busy_calendars(first_day())}
    return runtime


def first_day() -> datetime:
    """Midnight in Berlin, two days from now: past any lead time, before any cutoff."""
    day = (datetime.now(BERLIN) + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN)


def busy_calendars(start: datetime) -> MemoryConnector:
    """Each staff member's calendar holds a lunch break and a meeting every day."""
    connector = MemoryConnector()
    for index in range(STAFF):
        calendar = connector.calendar(f"staff-{index}")
        for day in range(DAYS):
            noon = start + timedelta(days=day, hours=12)
            calendar.add_foreign_event(f"lunch-{day}", noon, noon + timedelta(hours=1), busy=True)
            meeting = start + timedelta(days=day, hours=16 + index % 3)
            calendar.add_foreign_event(f"meeting-{day}", meeting,
                                       meeting + timedelta(minutes=45), busy=True)
    return connector


def seed(database: str) -> str:
    """The shop and its 10,000 bookings; the manage token of one of them."""
    runtime = build_runtime(bench_settings(database))
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        merchant, service, staff = seed_catalog(session)
        session.execute(insert(Booking), list(booking_rows(merchant, service, staff)))
        measured = session.scalars(select(Booking).where(Booking.key == "b0")).one()
        token = issue_token(session, measured)
    runtime.close()
    return token


def seed_catalog(session: Session) -> tuple[Merchant, Service, list[Staff]]:
    merchant, _ = upsert_merchant(session, "m1", MerchantIn.model_validate({
        "name": "Bench Salon", "timezone": "Europe/Berlin", "contact_text": "Call 030 1234.",
        "booking_page_url": "https://salon.example/book",
    }))
    staff = []
    for index in range(STAFF):
        data = StaffIn.model_validate({"name": f"Staff {index}", "timezone": "Europe/Berlin",
                                       "working_hours": EVERY_DAY})
        member, _ = upsert_staff(session, merchant, f"s{index}", data)
        binding = BindingIn(connector="local", calendar_id=f"staff-{index}")
        upsert_binding(session, member, "work", binding, {"local"})
        staff.append(member)
    data = ServiceIn.model_validate({"name": "Haircut", "duration_minutes": 30,
                                     "staff": [member.key for member in staff]})
    service, _ = upsert_service(session, merchant, "cut", data)
    return merchant, service, staff


def booking_rows(
    merchant: Merchant, service: Service, staff: list[Staff]
) -> Iterator[dict[str, object]]:
    """10,000 web bookings, 100 a staff member: two a day at 09:00 and 14:00, for 50 days."""
    rules = rules_at_booking(service, "web", None).to_json()
    now, start = datetime.now(UTC), first_day()
    for index in range(BOOKINGS):
        member = staff[index % STAFF]
        turn = index // STAFF
        begins = start + timedelta(days=turn // 2, hours=9 if turn % 2 == 0 else 14)
        yield {
            "merchant_id": merchant.id, "key": f"b{index}", "origin": "web",
            "service_id": service.id, "staff_id": member.id,
            "start": begins.astimezone(UTC),
            "end": (begins + timedelta(minutes=30)).astimezone(UTC),
            "customer_timezone": "Europe/Berlin", "customer_name": f"Customer {index}",
            "customer_email": f"c{index}@example.org", "status": "confirmed",
            "uid": event_uid(merchant.key, f"b{index}"), "manage_rules": rules,
            "created_at": now, "updated_at": now,
        }


# ---- the servers (child processes) -------------------------------------------------------


# uvicorn's standard extras, as syncd.serve runs them, and its plain stack without them
STACKS: dict[str, tuple[Literal["httptools", "h11"], Literal["uvloop", "asyncio"]]] = {
    "standard": ("httptools", "uvloop"),
    "plain": ("h11", "asyncio"),
}


def uvicorn_config(app: ASGIApp, port: int, stack: str = "standard") -> uvicorn.Config:
    """The settings syncd.serve gives uvicorn, on the stack named."""
    http, loop = STACKS[stack]
    return uvicorn.Config(app, host="127.0.0.1", port=port, http=http, loop=loop,
                          log_config=None, lifespan="off", access_log=False)


def floor_app(database: str) -> ASGIApp:
    """GET /manage/{token} as a raw ASGI app: syncd's read, page and template, the security
    headers, nothing else (see the module's docstring)."""
    from syncd.web.app import page_web
    from syncd.web.booking_pages import load_page, render_details
    from syncd.web.headers import with_security_headers

    web = page_web(bench_runtime(database))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        token = scope["path"].removeprefix("/manage/")
        request = Request({**scope, "root_path": "/manage"})
        response = render_details(web, request, token, await load_page(web, token))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message["headers"])
            await send(message)

        await response(scope, receive, send_with_headers)

    return app


def serve_floor(port: int, database: str) -> None:
    from syncd.serve import freeze_startup_objects

    app = floor_app(database)
    freeze_startup_objects()
    uvicorn.Server(uvicorn_config(app, port)).run()


def serve_syncd(port: int, database: str, stack: str) -> None:
    from syncd.api import create_app
    from syncd.serve import freeze_startup_objects

    runtime = bench_runtime(database)
    app = create_app(runtime)
    freeze_startup_objects()  # as syncd.serve does once everything is built
    uvicorn.Server(uvicorn_config(app, port, stack)).run()


def cpu_sides() -> tuple[set[int], set[int]] | None:
    """(the load's CPUs, the servers' CPUs), or None on a single CPU.

    Left to the scheduler, the load and the server under test sometimes shared
    one CPU and sometimes not, and throughput jumped between two levels from
    one slice to the next; kept apart, each has a CPU of its own every time."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


def start_server(target: Callable[..., None], *args: object) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    sides = cpu_sides()
    if sides is not None and process.pid is not None:
        os.sched_setaffinity(process.pid, sides[1])
    return process


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {STARTUP_TIMEOUT_SECONDS}s")


def stop_server(process: multiprocessing.Process) -> None:
    process.terminate()
    process.join(10)


# ---- the load ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of all of process `pid`'s threads so far, to the nanosecond (Linux: each
    thread's schedstat; the clock ticks of /proc/<pid>/stat are too coarse for a slice)."""
    return sum(int(stat.read_text().split()[0])
               for stat in Path(f"/proc/{pid}/task").glob("*/schedstat")) / 1e9


class Connection:
    """One keep-alive HTTP/1.1 connection driven by h11 alone: a load generator must cost
    the client far less than a request costs the server (httpx's layers cost more than the
    bare page does), or it measures itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, url: httpx.URL) -> Connection:
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer)

    async def get(self, url: httpx.URL) -> int:
        """GET `url`, read the whole answer; its status."""
        target = url.raw_path
        host = f"{url.host}:{url.port}".encode()
        self.writer.write(self.http.send(h11.Request(method="GET", target=target,
                                                     headers=[("Host", host)])))
        self.writer.write(self.http.send(h11.EndOfMessage()))
        status = 0
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                self.http.start_next_cycle()
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise RuntimeError(f"{url} closed the connection")

    def close(self) -> None:
        self.writer.close()


async def load(name: str, url: str, pid: int, requests: int, concurrency: int) -> Figures:
    """`requests` GETs of `url`, `concurrency` at a time; every answer must be a 200."""
    target = httpx.URL(url)
    latencies: list[float] = []
    connections = [await Connection.open(target) for _ in range(concurrency)]

    async def user(connection: Connection, turns: Iterator[int]) -> None:
        for _ in turns:
            sent = time.perf_counter()
            status = await connection.get(target)
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise RuntimeError(f"{name}: {url} answered {status}")

    async def run(count: int) -> float:
        turns = iter(range(count))  # shared: each request is taken by one user
        started = time.perf_counter()
        await asyncio.gather(*(user(connection, turns) for connection in connections))
        return time.perf_counter() - started

    try:
        await run(WARM_UP_PER_CONNECTION * concurrency)  # fill caches
        latencies.clear()
        cpu_before = cpu_seconds(pid)
        seconds = await run(requests)
        server_cpu = cpu_seconds(pid) - cpu_before
    finally:
        for connection in connections:
            connection.close()
    return Figures(name, requests, seconds, latencies, server_cpu)


def measure(name: str, url: str, pid: int, requests: int, concurrency: int) -> Figures:
    return asyncio.run(load(name, url, pid, requests, concurrency))


def pooled(slices: list[Figures]) -> Figures:
    """One target's slices as one measurement."""
    return Figures(
        slices[0].name,
        sum(figures.requests for figures in slices),
        sum(figures.seconds for figures in slices),
        [latency for figures in slices for latency in figures.latencies],
        sum(figures.server_cpu for figures in slices),
    )


def report(details: Figures, plain: Figures, slots: Figures, floor: Figures) -> None:
    of_floor = details.per_second / floor.per_second
    speedup = details.per_second / plain.per_second
    tail = slots.percentile(0.99) / details.percentile(0.99)
    print(f"\n{STAFF} staff, {BOOKINGS} bookings (SQLite), busy time from the memory connector")
    for figures in (details, plain, slots, floor):
        print(figures.line())
    print(f"details / floor throughput      : {of_floor:6.1%}  "
          f"(target >= 85%: {'ok' if of_floor >= 0.85 else 'MISSED'})")
    print(f"details standard / h11 throughput: {speedup:6.2f}x "
          f"(target >= 1.8x: {'ok' if speedup >= 1.8 else 'MISSED'})")
    print(f"slots p99 / details p99         : {tail:6.2f}x "
          f"(target <= 10x: {'ok' if tail <= 10 else 'MISSED'})")
    for figures in (details, plain):
        cost = (figures.server_cpu / figures.requests) / (floor.server_cpu / floor.requests)
        print(f"server CPU per request          : {figures.name} {cost:.2f}x the floor's")
    print(f"load average during the run     : {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


@dataclass
class Servers:
    processes: list[multiprocessing.Process]

    def start(self, target: Callable[..., None], url: str, *args: object) -> int:
        """Start a server on `url`'s port; its pid once it answers `url`."""
        process = start_server(target, httpx.URL(url).port, *args)
        self.processes.append(process)
        wait_until_up(url)
        assert process.pid is not None
        return process.pid

    def stop(self) -> None:
        for process in self.processes:
            stop_server(process)


def start_targets(servers: Servers, database: str, token: str) -> dict[str, tuple[str, int]]:
    """Each target's URL and its server's pid."""
    details = f"http://127.0.0.1:{free_port()}/manage/{token}"
    syncd = servers.start(serve_syncd, details, database, "standard")
    page = httpx.get(details).text
    plain = f"http://127.0.0.1:{free_port()}/manage/{token}"
    floor = f"http://127.0.0.1:{free_port()}/manage/{token}"
    day = (first_day() + timedelta(days=3)).date().isoformat()
    targets = {
        "details": (details, syncd),
        "details-h11": (plain, servers.start(serve_syncd, plain, database, "plain")),
        "slots": (f"{details}/reschedule?date={day}", syncd),
        "floor": (floor, servers.start(serve_floor, floor, database)),
    }
    for other in (plain, floor):
        if httpx.get(other).text != page:
            raise RuntimeError(f"{other} serves another page than syncd's")
    return targets


def run_slices(targets: dict[str, tuple[str, int]], args: argparse.Namespace) -> list[Figures]:
    found: dict[str, list[Figures]] = {name: [] for name in targets}
    sides = cpu_sides()
    if sides is not None:
        os.sched_setaffinity(0, sides[0])  # the load, apart from the servers
    for slice_no in range(args.slices):
        for name, (url, pid) in targets.items():
            total = args.slot_requests if name == "slots" else args.requests
            found[name].append(measure(name, url, pid, total // args.slices, args.concurrency))
        print(f"slice {slice_no + 1}/{args.slices}: " + "   ".join(
            f"{name} {found[name][-1].per_second:.0f}/s" for name in targets), flush=True)
    return [pooled(slices) for slices in found.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--slot-requests", type=int, default=1000)  # each costs a few pages
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slices", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("SYNCD_MANAGE_SECRET", secrets.token_urlsafe(32))  # for the servers
    with tempfile.TemporaryDirectory() as tmp:
        database = str(Path(tmp) / "bench.db")
        started = time.perf_counter()
        token = seed(database)
        print(f"seeded {STAFF} staff and {BOOKINGS} bookings in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        servers = Servers([])
        try:
            figures = run_slices(start_targets(servers, database, token), args)
        finally:
            servers.stop()
    report(*figures)


if __name__ == "__main__":
    main()

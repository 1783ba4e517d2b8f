"""The customer's manage pages under load, against a bare Starlette endpoint.

    .venv/bin/python bench/manage_web.py [--requests 3000] [--slot-requests 500]
                                         [--concurrency 16] [--rounds 3]

The store: a SQLite file with 100 staff members (each with working hours and a
calendar on the in-memory connector, holding some busy time of its own) and
10,000 bookings, seeded directly through the store. syncd runs in a child
process as `syncd web` runs it (create_app under uvicorn, same settings); the
load comes from this process, a bounded asyncio loop of GETs to 127.0.0.1 with
a fixed number of keep-alive connections, each with one request in flight,
sent and read with h11 alone so that the client costs much less than the
server (through httpx, the client ran out of CPU before even the bare page's
server did, and both figures were the client's).

Measured, in alternating rounds (the median round is reported):
- bare:    a Starlette endpoint returning a fixed page (the details page's own
           HTML, so the bytes on the wire are the same), in a child process
           under the same uvicorn settings;
- details: GET /manage/{token} for one booking among the 10,000;
- slots:   GET /manage/{token}/reschedule?date=... (the day's free times and the
           days of its fortnight that have any, from working hours, the staff
           member's bookings and calendar busy time).
Targets: details >= 50% of bare's requests per second; slots p99 < 10x details p99.
Also shown: the server process's CPU time per request, which other load on the
machine changes far less than throughput and latency.
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
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h11
import httpx
import uvicorn
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from connectors.memory import MemoryConnector
from syncd.config import Settings
from syncd.domain.bookings import event_uid
from syncd.manage.rules import rules_at_booking
from syncd.manage.tokens import issue_token
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.catalog import upsert_binding, upsert_merchant, upsert_service, upsert_staff
from syncd.store.models import Booking, Merchant, Service, Staff
from syncd.store.schema import upgrade
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
        return (f"{self.name:<8} {self.per_second:8.0f} req/s   p50 {p50:7.2f} ms   "
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
    runtime = Runtime.from_settings(bench_settings(database))
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
    runtime = Runtime.from_settings(bench_settings(database))
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


def uvicorn_config(app: Starlette, port: int) -> uvicorn.Config:
    """The settings syncd.serve gives uvicorn, for both servers."""
    return uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                          lifespan="off", access_log=False)


def bare_app(body: str) -> Starlette:
    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(body)

    return Starlette(routes=[Route("/page", page)])


def serve_bare(port: int, body_file: str) -> None:
    body = Path(body_file).read_text(encoding="utf-8")
    uvicorn.Server(uvicorn_config(bare_app(body), port)).run()


def serve_syncd(port: int, database: str) -> None:
    from syncd.api import create_app

    runtime = bench_runtime(database)
    uvicorn.Server(uvicorn_config(create_app(runtime), port)).run()


def start_server(target: Callable[..., None], *args: object) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
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
    """User plus system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def measure(name: str, url: str, pid: int, args: argparse.Namespace) -> Figures:
    requests = args.slot_requests if name == "slots" else args.requests
    figures = asyncio.run(load(name, url, pid, requests, args.concurrency))
    print(figures.line(), flush=True)
    return figures


def median_figures(rounds: list[Figures]) -> Figures:
    """The round with the median throughput (its latencies go with it)."""
    ordered = sorted(rounds, key=lambda figures: figures.per_second)
    return ordered[len(ordered) // 2]


def report(bare: Figures, details: Figures, slots: Figures) -> None:
    share = details.per_second / bare.per_second
    tail = slots.percentile(0.99) / details.percentile(0.99)
    print(f"\n{STAFF} staff, {BOOKINGS} bookings (SQLite), busy time from the memory connector")
    for figures in (bare, details, slots):
        print(figures.line())
    verdict = "ok" if share >= 0.5 else "MISSED"
    print(f"details throughput / bare : {share:6.1%}  (target >= 50%: {verdict})")
    verdict = "ok" if tail < 10 else "MISSED"
    print(f"slots p99 / details p99   : {tail:6.2f}x (target < 10x: {verdict})")
    cost = (details.server_cpu / details.requests) / (bare.server_cpu / bare.requests)
    print(f"server CPU per request    : details {cost:.1f}x bare (50% of bare's throughput "
          "needs at most 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--slot-requests", type=int, default=500)  # each costs a few pages
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SYNCD_MANAGE_SECRET", secrets.token_urlsafe(32))  # for the server
    with tempfile.TemporaryDirectory() as tmp:
        database = str(Path(tmp) / "bench.db")
        started = time.perf_counter()
        token = seed(database)
        print(f"seeded {STAFF} staff and {BOOKINGS} bookings in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        syncd_port, bare_port = free_port(), free_port()
        syncd_server = start_server(serve_syncd, syncd_port, database)
        bare_server = None
        try:
            base = f"http://127.0.0.1:{syncd_port}/manage/{token}"
            wait_until_up(base)
            body_file = Path(tmp) / "details.html"
            body_file.write_text(httpx.get(base).text, encoding="utf-8")
            bare_server = start_server(serve_bare, bare_port, str(body_file))
            bare_url = f"http://127.0.0.1:{bare_port}/page"
            wait_until_up(bare_url)
            day = (first_day() + timedelta(days=3)).date().isoformat()
            assert syncd_server.pid is not None
            assert bare_server.pid is not None
            targets = {"bare": (bare_url, bare_server.pid), "details": (base, syncd_server.pid),
                       "slots": (f"{base}/reschedule?date={day}", syncd_server.pid)}
            found: dict[str, list[Figures]] = {name: [] for name in targets}
            for round_no in range(args.rounds):
                print(f"round {round_no + 1}:", flush=True)
                for name, (url, pid) in targets.items():  # alternated: drift hits each alike
                    found[name].append(measure(name, url, pid, args))
        finally:
            for process in (syncd_server, bare_server):
                if process is not None:
                    stop_server(process)
    report(*(median_figures(rounds) for rounds in found.values()))


if __name__ == "__main__":
    main()

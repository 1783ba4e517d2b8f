"""Mirror N bookings to a local CalDAV server through syncd, against raw httpx PUTs.

    .venv/bin/python bench/mirror_caldav.py [--server radicale|xandikos|cyrus|davical]
                                            [--bookings 2000] [--rounds 3]

syncd: the bookings are stored first through the store's booking function
(what the API calls), 50 per transaction, with their calendars held back, as
the baseline's bodies are built before its clock starts; the clock runs from
the commit that releases the calendars (the worker, running in this process and
idle, is woken by it) until the store reports every mirror converged. So both
sides are timed from work at rest to work done. Baseline: the same event bodies PUT
with If-None-Match by a plain httpx loop, at the same concurrency (4 requests
per calendar, 4 calendars). Each round uses fresh collections on the same
server; rounds alternate baseline and syncd so drift hits both alike. The
baseline retries a request whose keep-alive connection the server dropped
(Radicale does under load) or that it answered 423, 500 or 503 (DAViCal answers 500
when concurrent writes clash in its database), as syncd does.
Each server is a start function (SERVERS): Cyrus and DAViCal run from their
Debian packages through tests/servers_cyrus.py and tests/servers_davical.py.
Target: syncd within 1.25x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from scale import hold_calendars

from connectors.base import EventSpec
from connectors.caldav.ical import event_to_ical
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.serve import build_connectors
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.caldav_listing import list_events
from tests.servers import DavServer, RadicaleServer, XandikosServer

CALENDARS = 4
CONCURRENCY = 4  # per calendar, as connectors.caldav's default
ENQUEUE_BATCH = 50
RETRIES = 5
# a keep-alive connection the server closed as the request went out: send it again
DROPPED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
BUSY = (423, 500, 503)  # Xandikos's lock; DAViCal's clashing transactions; come back


def start_radicale(workdir: Path) -> DavServer:
    return RadicaleServer(workdir / "radicale")


def start_xandikos(workdir: Path) -> DavServer:
    return XandikosServer(workdir / "xandikos")


def start_cyrus(workdir: Path) -> DavServer:
    return _debian_server("cyrus", "tests.servers_cyrus", "CyrusServer", workdir)


def start_davical(workdir: Path) -> DavServer:
    return _debian_server("davical", "tests.servers_davical", "DavicalServer", workdir)


def _debian_server(name: str, module_name: str, class_name: str, workdir: Path) -> DavServer:
    """A server from Debian's packages, through the tests' own runner for it."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise SystemExit(f"{name}: this checkout has no {module_name.replace('.', '/')}.py "
                         "to run it (try --server radicale or xandikos)") from None
    missing = getattr(module, f"{name}_missing")()
    if missing is not None:
        raise SystemExit(f"{name}: {missing}")
    server: DavServer = getattr(module, class_name)(workdir / name)
    return server


SERVERS: dict[str, Callable[[Path], DavServer]] = {
    "radicale": start_radicale,
    "xandikos": start_xandikos,
    "cyrus": start_cyrus,
    "davical": start_davical,
}


def staff_names(round_no: int, kind: str) -> list[str]:
    return [f"{kind}{round_no}s{i}" for i in range(CALENDARS)]


class RawLoop:
    """The baseline: PUT each body with If-None-Match, at most CONCURRENCY per calendar."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.retries = 0

    async def put(self, href: str, body: bytes) -> None:
        headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
        for attempt in range(RETRIES + 1):
            try:
                response = await self.client.put(href, content=body, headers=headers)
            except DROPPED:
                response = None
            if response is not None and response.status_code not in BUSY:
                # 412 after a retry: the dropped attempt had stored it
                if not (attempt and response.status_code == 412):
                    response.raise_for_status()
                return
            self.retries += 1
            await asyncio.sleep(0.01 * attempt)
        raise RuntimeError(f"PUT {href} failed {RETRIES + 1} times")


async def baseline(server: DavServer, round_no: int, bookings: int) -> tuple[float, int]:
    paths = [server.create_collection(n) for n in staff_names(round_no, "raw")]
    bodies = [
        (paths[i % CALENDARS], f"raw-{round_no}-{i}", _body(i, round_no)) for i in range(bookings)
    ]
    limits = [asyncio.Semaphore(CONCURRENCY) for _ in paths]
    async with httpx.AsyncClient(
        base_url=server.url,
        auth=(server.username, server.password),
        verify=server.tls_verify(),
        limits=httpx.Limits(max_connections=CALENDARS * CONCURRENCY),
        timeout=60,
    ) as client:
        loop = RawLoop(client)

        async def put(index: int, path: str, uid: str, body: bytes) -> None:
            async with limits[index % CALENDARS]:
                await loop.put(f"{path}{uid}.ics", body)

        started = time.perf_counter()
        await asyncio.gather(*(put(i, p, u, b) for i, (p, u, b) in enumerate(bodies)))
        return time.perf_counter() - started, loop.retries


def _body(index: int, round_no: int) -> bytes:
    start = f.slot(index)
    return event_to_ical(
        EventSpec(
            booking_key=f"raw-{round_no}-{index}",
            summary="Haircut: Customer",
            start=start,
            end=start + (f.slot(1) - f.slot(0)),
            timezone="Europe/Berlin",
            sequence=0,
            description="Service: Haircut\nCustomer: Customer",
            location="",
        )
    )


def syncd_runtime(workdir: Path, server: DavServer, round_no: int) -> Runtime:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{workdir}/syncd-{round_no}.db"},
            "connectors": {"local": server.connector_settings()},
        }
    )
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for name in staff_names(round_no, "syncd"):
            f.staff_with_calendar(session, shop, name, server.create_collection(name))
    return runtime


def enqueue(runtime: Runtime, round_no: int, bookings: int) -> None:
    """As a platform pushes them: a transaction per batch of ENQUEUE_BATCH bookings."""
    names = staff_names(round_no, "syncd")
    for first in range(0, bookings, ENQUEUE_BATCH):
        with runtime.sessions.begin() as session:
            for i in range(first, min(first + ENQUEUE_BATCH, bookings)):
                # keys (so UIDs) of their own per round: Cyrus keeps a UID unique across
                # the whole account, and earlier rounds' events stay on it
                f.book(session, f"r{round_no}b{i}", names[i % CALENDARS], f.slot(i))


def pending(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return count_pending(session)


def hold(runtime: Runtime, until: datetime | None) -> None:
    with runtime.sessions.begin() as session:
        hold_calendars(session, until)


async def with_syncd(runtime: Runtime, round_no: int, bookings: int) -> float:
    hold(runtime, utcnow() + timedelta(days=1))
    enqueue(runtime, round_no, bookings)
    connectors = build_connectors(runtime)
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(runtime, connectors).run(stop))
    await asyncio.sleep(0.5)  # let the worker reach its idle wait
    started = time.perf_counter()
    hold(runtime, None)
    runtime.waker.wake()  # what a commit making mirrors pending does
    while await asyncio.to_thread(pending, runtime):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await worker
    await connectors["local"].aclose()
    return elapsed


def events_on(server: DavServer, round_no: int, kind: str) -> int:
    return sum(
        len(list_events(server, server.collection_path(n))) for n in staff_names(round_no, kind)
    )


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(SERVERS), default="radicale")
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {load()}", flush=True)
    raw_times, syncd_times, retries = [], [], 0
    with tempfile.TemporaryDirectory() as tmp, SERVERS[args.server](Path(tmp)) as server:
        for round_no in range(args.rounds):
            raw_time, raw_retries = asyncio.run(baseline(server, round_no, args.bookings))
            raw_times.append(raw_time)
            retries += raw_retries
            runtime = syncd_runtime(Path(tmp), server, round_no)
            syncd_times.append(asyncio.run(with_syncd(runtime, round_no, args.bookings)))
            runtime.close()
            assert events_on(server, round_no, "syncd") == args.bookings, "events missing"
            assert events_on(server, round_no, "raw") == args.bookings
            print(
                f"round {round_no + 1}: raw httpx {raw_times[-1]:.2f}s  "
                f"syncd {syncd_times[-1]:.2f}s  (load {load()})",
                flush=True,
            )
    raw, ours = statistics.median(raw_times), statistics.median(syncd_times)
    print(f"\n{args.server}: {args.bookings} bookings, {CALENDARS} calendars, "
          f"{CONCURRENCY} per calendar, median of {args.rounds} rounds")
    print(f"raw httpx PUT loop : {raw:.2f}s ({args.bookings / raw:.0f} events/s, "
          f"{retries} requests retried)")
    print(f"syncd end to end   : {ours:.2f}s ({args.bookings / ours:.0f} events/s)")
    print(f"ratio syncd/raw    : {ours / raw:.2f}x (target <= 1.25x)")
    print(f"load average after : {load()}")


if __name__ == "__main__":
    main()

"""Mirror N bookings to a local Radicale through syncd, against raw httpx PUTs.

    .venv/bin/python bench/mirror_caldav.py [--bookings 2000] [--rounds 3]

syncd: the bookings are enqueued through the store's booking function (what
the API calls), 50 per transaction, while the worker, running in this
process, writes them; the clock stops when the store reports every mirror
converged. Baseline: the same event bodies PUT
with If-None-Match by a plain httpx loop, at the same concurrency (4 requests
per calendar, 4 calendars). Each round uses fresh collections on the same
server; rounds alternate baseline and syncd so drift hits both alike.
Target: syncd within 1.25x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from connectors.base import EventSpec
from connectors.caldav.ical import event_to_ical
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.worker import Worker
from tests import factories as f
from tests.caldav_listing import list_events
from tests.servers import RadicaleServer

CALENDARS = 4
CONCURRENCY = 4  # per calendar, as connectors.caldav's default
ENQUEUE_BATCH = 50


def staff_names(round_no: int, kind: str) -> list[str]:
    return [f"{kind}{round_no}s{i}" for i in range(CALENDARS)]


async def baseline(server: RadicaleServer, round_no: int, bookings: int) -> float:
    paths = [server.create_collection(n) for n in staff_names(round_no, "raw")]
    bodies = [
        (paths[i % CALENDARS], f"raw-{round_no}-{i}", _body(i, round_no)) for i in range(bookings)
    ]
    limits = [asyncio.Semaphore(CONCURRENCY) for _ in paths]
    async with httpx.AsyncClient(
        base_url=server.url,
        auth=(server.username, server.password),
        limits=httpx.Limits(max_connections=CALENDARS * CONCURRENCY),
    ) as client:

        async def put(index: int, path: str, uid: str, body: bytes) -> None:
            async with limits[index % CALENDARS]:
                response = await client.put(
                    f"{path}{uid}.ics",
                    content=body,
                    headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(put(i, p, u, b) for i, (p, u, b) in enumerate(bodies)))
        return time.perf_counter() - started


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


def syncd_runtime(workdir: Path, server: RadicaleServer, round_no: int) -> Runtime:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{workdir}/syncd-{round_no}.db"},
            "connectors": {"local": server.connector_settings()},
        }
    )
    runtime = Runtime.from_settings(settings)
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
                f.book(session, f"b{i}", names[i % CALENDARS], f.slot(i))


def pending(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return count_pending(session)


async def with_syncd(runtime: Runtime, round_no: int, bookings: int) -> float:
    from syncd.serve import build_connectors

    connectors = build_connectors(runtime)
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(runtime, connectors).run(stop))
    await asyncio.sleep(0.2)  # let the worker reach its idle wait
    started = time.perf_counter()
    await asyncio.to_thread(enqueue, runtime, round_no, bookings)
    while await asyncio.to_thread(pending, runtime):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await worker
    await connectors["local"].aclose()
    return elapsed


def events_on(server: RadicaleServer, round_no: int, kind: str) -> int:
    return sum(
        len(list_events(server, server.collection_path(n))) for n in staff_names(round_no, kind)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raw_times, syncd_times = [], []
    with tempfile.TemporaryDirectory() as tmp, RadicaleServer(Path(tmp) / "radicale") as server:
        for round_no in range(args.rounds):
            raw_times.append(asyncio.run(baseline(server, round_no, args.bookings)))
            runtime = syncd_runtime(Path(tmp), server, round_no)
            syncd_times.append(asyncio.run(with_syncd(runtime, round_no, args.bookings)))
            runtime.close()
            assert events_on(server, round_no, "syncd") == args.bookings, "events missing"
            assert events_on(server, round_no, "raw") == args.bookings
            print(
                f"round {round_no + 1}: raw httpx {raw_times[-1]:.2f}s  "
                f"syncd {syncd_times[-1]:.2f}s",
                flush=True,
            )
    raw, ours = statistics.median(raw_times), statistics.median(syncd_times)
    print(f"\n{args.bookings} bookings, {CALENDARS} calendars, {CONCURRENCY} per calendar")
    print(f"raw httpx PUT loop : {raw:.2f}s ({args.bookings / raw:.0f} events/s)")
    print(f"syncd end to end   : {ours:.2f}s ({args.bookings / ours:.0f} events/s)")
    print(f"ratio syncd/raw    : {ours / raw:.2f}x (target <= 1.25x)")


if __name__ == "__main__":
    main()

"""Deliver N webhook events to a local receiver through syncd, against a plain httpx loop.

    .venv/bin/python bench/webhooks.py [--events 10000] [--concurrency 16] [--rounds 2]

syncd: N events are queued the way the store queues them (booking changes in
transactions of 50 bookings: created, rescheduled, approved, cancelled, so four
events per booking, in order per booking), then the webhook sender, running in
this process on the embedded SQLite database, delivers them; the clock runs from
the sender's start until the store has recorded every event delivered. That
includes claiming each booking's events one at a time in order, signing, and
recording every outcome.
Baseline: the same N bodies POSTed by a plain httpx loop at the same
concurrency, unsigned, in queue order, with nothing recorded anywhere.
The receiver is a bare asyncio HTTP server in another process
(bench/webhook_sink.py), so it is not what is measured. Rounds alternate
baseline and syncd so drift hits both alike.
Target: syncd within 1.5x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.schemas import StaffIn
from syncd.store.bookings import cancel_booking, put_booking
from syncd.store.catalog import get_merchant, upsert_staff
from syncd.store.models import Merchant
from syncd.store.schema import upgrade
from syncd.webhooks.models import DeliveryState, WebhookDelivery
from syncd.webhooks.outbox import EventType
from syncd.webhooks.sender import WebhookSender
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from syncd.wiring import build_runtime
from tests import factories as f
from tests.servers import free_port

EVENTS_PER_BOOKING = 4
BATCH = 50
POLL_SECONDS = 0.2  # how often the store is asked whether all are delivered: the clock's grain


def start_sink(port: int) -> subprocess.Popen[str]:
    sink = Path(__file__).with_name("webhook_sink.py")
    process = subprocess.Popen(
        [sys.executable, str(sink), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def runtime_for(workdir: Path, round_no: int, url: str, concurrency: int) -> Runtime:
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir}/bench-{round_no}.db"},
        "webhooks": {"concurrency_per_subscription": concurrency,
                     "allow_destinations": ["127.0.0.1"]},  # the receiver listens there
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop, "color", approval=True)
        for name in ("alice", "bob"):  # no calendars: only webhooks are measured
            upsert_staff(session, shop, name, StaffIn(name=name, timezone="Europe/Berlin"))
        data = WebhookIn.model_validate({"url": url, "events": list(EventType)})
        upsert_subscription(session, shop, "platform", data)
    return runtime


def queue_events(runtime: Runtime, bookings: int) -> None:
    for first in range(0, bookings, BATCH):
        with runtime.sessions.begin() as session:
            shop = get_merchant(session, "acme")
            for index in range(first, min(first + BATCH, bookings)):
                _four_changes(session, shop, f"b{index}", index)


def _four_changes(session: Session, shop: Merchant, key: str, index: int) -> None:
    """booking.created (pending), .rescheduled, .status_changed (approved), .cancelled."""
    body = f.booking_body("alice", f.slot(index)).model_copy(update={"service": "color"})
    put_booking(session, shop, key, body)
    moved = body.model_copy(update={"staff": "bob", "start": f.slot(index + 50_000)})
    put_booking(session, shop, key, moved)
    put_booking(session, shop, key, moved.model_copy(update={"status": "confirmed"}))
    cancel_booking(session, shop, key)


def delivered(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        query = select(func.count()).where(WebhookDelivery.state == DeliveryState.DELIVERED)
        return int(session.scalar(query) or 0)


def bodies(runtime: Runtime) -> list[bytes]:
    with runtime.sessions.begin() as session:
        query = select(WebhookDelivery.body).order_by(WebhookDelivery.id)
        return [body.encode() for body in session.scalars(query)]


async def with_syncd(runtime: Runtime, events: int) -> float:
    stop = asyncio.Event()
    started = time.perf_counter()
    sender = asyncio.create_task(WebhookSender(runtime).run(stop))
    while await asyncio.to_thread(delivered, runtime) < events:
        await asyncio.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    stop.set()
    await sender
    return elapsed


async def baseline(url: str, payloads: list[bytes], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post(body: bytes) -> None:
            async with slots:
                response = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(body) for body in payloads))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    bookings = args.events // EVENTS_PER_BOOKING
    events = bookings * EVENTS_PER_BOOKING
    port = free_port()
    sink = start_sink(port)
    raw_times, syncd_times = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(args.rounds):
                url = f"http://127.0.0.1:{port}/syncd/{round_no}"
                runtime = runtime_for(Path(tmp), round_no, url, args.concurrency)
                queue_events(runtime, bookings)
                raw_url = f"http://127.0.0.1:{port}/raw/{round_no}"
                raw_times.append(asyncio.run(baseline(raw_url, bodies(runtime), args.concurrency)))
                syncd_times.append(asyncio.run(with_syncd(runtime, events)))
                runtime.close()
                print(f"round {round_no + 1}: raw httpx {raw_times[-1]:.2f}s  "
                      f"syncd {syncd_times[-1]:.2f}s", flush=True)
        stats = httpx.get(f"http://127.0.0.1:{port}/stats").json()
    finally:
        sink.terminate()
        sink.wait()
    for round_no in range(args.rounds):
        received = stats[f"/syncd/{round_no}"]
        assert received["webhook_ids"] == events, f"round {round_no}: events missing"
        assert stats[f"/raw/{round_no}"]["requests"] == events
    raw, ours = statistics.median(raw_times), statistics.median(syncd_times)
    print(f"\n{events} events ({bookings} bookings x {EVENTS_PER_BOOKING}, in order per "
          f"booking), {args.concurrency} in flight")
    print(f"plain httpx POST loop : {raw:.2f}s ({events / raw:.0f} events/s)")
    print(f"syncd webhook sender  : {ours:.2f}s ({events / ours:.0f} events/s)")
    print(f"ratio syncd/raw       : {ours / raw:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()

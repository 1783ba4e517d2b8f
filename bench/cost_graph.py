"""CPU per mirrored Microsoft 365 event: a `syncd worker` process against a raw $batch loop.

    .venv/bin/python bench/cost_graph.py [--events 10000] [--rounds 3]
                                         [--databases sqlite,postgresql]

Creates, per $batch item. Both sides write to the Graph double (tests/graph) in a
process of its own with no added latency; its CPU per item is printed too (it is
a strict double, not a free server: it validates every request as Graph does).
syncd: the bookings are stored first with every mailbox held back; the worker
(its own process, started and idle before) is released and the clock runs until
nothing is pending; its CPU is read from /proc before and after. The raw loop:
bench/raw_graph.py's bare httpx client sending the same create bodies in $batches
of 20, one batch in flight per mailbox, every mailbox at once, in this process,
with its CPU read the same way. Target: syncd's CPU per item <= 1.5x the loop's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cost import booking_in, database, load, release_and_converge
from bench.mirror_m365 import DoubleProcess
from bench.raw_graph import _all as raw_batches
from bench.scale import cpu_seconds, hold_calendars, started_workers
from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.e2e.conftest import write_config
from tests.m365.support import connector_table

MAILBOXES = 16
BATCH = 500


@dataclass
class Figures:
    syncd: list[float] = field(default_factory=list)  # CPU ms per item, per round
    raw: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)  # the double's, while syncd wrote


def seed(runtime: Runtime, mailboxes: list[str], events: int) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for i, upn in enumerate(mailboxes):
            f.staff_with_calendar(session, shop, f"s{i}", upn)
        hold_calendars(session, until=utcnow().replace(year=utcnow().year + 1))
    for first in range(0, events, BATCH):
        with runtime.sessions.begin() as session:
            shop = get_merchant(session, "acme")
            for i in range(first, min(first + BATCH, events)):
                body = booking_in(f"s{i % len(mailboxes)}", i // len(mailboxes))
                put_booking(session, shop, f"b{i}", body)


def measure_round(kind: str, events: int, workdir: Path, name: str, figures: Figures) -> None:
    with DoubleProcess(0.0) as double:
        mailboxes = [f"{name}u{i}@contoso.test" for i in range(MAILBOXES)]
        for upn in mailboxes:
            double.add_mailbox(upn)
        connector = connector_table(double, directory=workdir)  # type: ignore[arg-type]
        double_pid = double._process.pid
        assert double_pid is not None
        with database(kind, workdir, name) as url:
            config = write_config(workdir / f"{name}.toml", url, connector,
                                  calendars_in_parallel=MAILBOXES, lease_seconds=60.0)
            runtime = build_runtime(load_config(config, environ={}))
            try:
                upgrade(runtime.engine)
                seed(runtime, mailboxes, events)
                with started_workers(config, workdir, name, 1) as [worker]:
                    assert worker.process is not None
                    cpu, served = cpu_seconds(worker.process.pid), cpu_seconds(double_pid)
                    release_and_converge(runtime)
                    figures.syncd.append((cpu_seconds(worker.process.pid) - cpu) * 1000 / events)
                    figures.server.append((cpu_seconds(double_pid) - served) * 1000 / events)
            finally:
                runtime.close()
        written = sum(double.event_count(upn) for upn in mailboxes)
        assert written == events, f"{written} events for {events} bookings"
        raw_mailboxes = [f"{name}r{i}@contoso.test" for i in range(MAILBOXES)]
        for upn in raw_mailboxes:
            double.add_mailbox(upn)
        started = time.process_time()
        asyncio.run(raw_batches(double, raw_mailboxes, events // MAILBOXES, name))
        figures.raw.append((time.process_time() - started) * 1000 / events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql", type=lambda s: s.split(","))
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["SYNCD_METRICS__PORT"] = "0"
    os.environ["SYNCD_METRICS__DATABASE_GAUGES"] = "false"
    os.environ["SYNCD_RECONCILE__ENABLED"] = "false"  # writes only
    events = args.events - args.events % MAILBOXES
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["SYNCD_MAIL__DIRECTORY"] = str(workdir / "mail")
        for kind in args.databases:
            figures = Figures()
            for round_no in range(args.rounds):
                measure_round(kind, events, workdir, f"{kind}{round_no}", figures)
                print(f"  {kind} round {round_no + 1} done (load {load()})")
            ours, raw = statistics.median(figures.syncd), statistics.median(figures.raw)
            verdict = "met" if ours <= 1.5 * raw else "NOT met"
            print(f"\n{kind}: {events} creates over {MAILBOXES} mailboxes, median of "
                  f"{args.rounds} round(s)\n  syncd {ours:.2f} ms/item  raw $batch loop "
                  f"{raw:.2f} ms/item  ratio {ours / raw:.2f}x (target <= 1.5x: {verdict})  "
                  f"double {statistics.median(figures.server):.2f} ms/item")
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()

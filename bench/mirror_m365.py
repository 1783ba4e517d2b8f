"""Mirror bookings to many mailboxes through syncd's worker and the Graph double.

    .venv/bin/python bench/mirror_m365.py [--mailboxes 40] [--bookings 20] [--latency 0.3]

The double (tests/graph), in a process of its own, answers over HTTPS with
Outlook's limits (4 concurrent requests per mailbox, 20 requests per $batch,
at most 4 items of a batch at a time) and `--latency` seconds per request,
per batch item as Graph runs them.

What is measured is what a long-running daemon shows: the worker runs and is
idle, with its token and connections (a warm-up booking per mailbox, timed
apart as "warm-up"); then one transaction stores every booking, and the clock
runs from its commit until the last mirror's result was stored (that row's
`updated_at`, read once a poll every 50 ms on a connection of its own finds
nothing pending: polling more often would compete with the worker, which runs
in this process). Storing the bookings outlasts the double's keep-alive
(uvicorn's 5 s), so the clock also covers opening the connections again, as
after any idle spell. The reconcile pass that follows a calendar's writes is
off unless --reconcile: it reads the calendar back and is no part of
mirroring.

Ideal for those limits: each mailbox takes ceil(writes / 4) rounds of the
latency, all mailboxes in parallel. Target: syncd within 1.3x of it. Each
round also times the baseline of bench/raw_graph.py on fresh mailboxes: a bare
httpx loop sending the same $batch requests under the same per-mailbox limits
(target: syncd within 1.5x of it, e.g. `--mailboxes 1000 --bookings 20`). Also
printed: how long the slowest mailbox's writes took at the double, from its
first batch item starting to its last answered, which leaves out the
worker's own part (leases, claims) and the recording of the results.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import Connection as SqlConnection
from sqlalchemy import exists, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw_graph import raw_loop
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.db import READ_ONLY
from syncd.store.models import Mirror
from syncd.store.schema import upgrade
from syncd.timeutil import as_utc
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.dbs import postgres_schema_url
from tests.graph import GraphDouble
from tests.m365.support import connector_table, new_mailbox

TARGET = 1.3
RAW_TARGET = 1.5
_EXPOSED = ("base_url", "graph_url", "tenant_id", "client_id", "client_secret", "ca_file")


class DoubleProcess:
    """The Graph double in a process of its own, so that it does not share this one's GIL.

    Offers the parts of GraphDouble's interface the bench uses.
    """

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_double, args=(child, latency), daemon=True)

    def __enter__(self) -> DoubleProcess:
        self._process.start()
        for name, value in self._pipe.recv().items():
            setattr(self, name, value)
        return self

    def __exit__(self, *exc: object) -> None:
        self._pipe.send(("stop",))
        self._process.join(10)

    def _ask(self, *command: Any) -> Any:
        self._pipe.send(command)
        return self._pipe.recv()

    def add_mailbox(self, upn: str, timezone: str = "UTC") -> str:
        return str(self._ask("add_mailbox", upn, timezone))

    def event_count(self, upn: str) -> int:
        return int(self._ask("event_count", upn))

    def stats(self) -> dict[str, Any]:
        return dict(self._ask("stats"))

    def reset_stats(self) -> None:
        self._ask("reset")


def _serve_double(pipe: Connection, latency: float) -> None:
    with GraphDouble() as double:
        double.latency_seconds = latency
        pipe.send({name: getattr(double, name) for name in _EXPOSED})
        while (command := pipe.recv())[0] != "stop":
            pipe.send(_answer(double, command))


def _answer(double: GraphDouble, command: tuple[Any, ...]) -> Any:
    if command[0] == "add_mailbox":
        return double.add_mailbox(command[1], timezone=command[2])
    if command[0] == "event_count":
        return len(double.events(command[1]))
    if command[0] == "reset":
        return double.stats.reset()
    stats = double.stats
    return {
        "requests": stats.requests,
        "batch_items": stats.batch_items,
        "token_requests": stats.token_requests,
        "early_requests": stats.early_requests,
        "throttled": stats.throttled,
        "peak_in_flight": dict(stats.peak_in_flight),
        "answered": [when for when, _, path, _ in stats.log if path == "/$batch"],
        "spans": _mailbox_spans(stats.log, double.latency_seconds),
    }


def _mailbox_spans(log: list[tuple[float, str, str, int]], latency: float) -> list[float]:
    """Per mailbox: from its first batch item starting to its last one answered."""
    done: dict[str, list[float]] = {}
    for when, _, path, _ in log:
        if path.startswith("$batch /users/"):
            done.setdefault(path.split("/")[2], []).append(when)
    return [max(times) - min(times) + latency for times in done.values()]


def runtime_for(double: Any, workdir: Path, database_url: str, args: argparse.Namespace) -> Runtime:
    settings = Settings.model_validate(
        {
            "database": {"url": database_url},
            "reconcile": {"enabled": args.reconcile},
            "connectors": {"graph": connector_table(double, directory=workdir)},
        }
    )
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def staff_keys(mailboxes: int) -> list[str]:
    return [f"s{i}" for i in range(mailboxes)]


def seed(double: Any, runtime: Runtime, mailboxes: int) -> list[str]:
    """A shop whose staff each have a mailbox bound; no bookings yet."""
    upns = [new_mailbox(double) for _ in range(mailboxes)]
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for key, upn in zip(staff_keys(mailboxes), upns, strict=True):
            f.staff_with_calendar(session, shop, key, upn, "graph")
    return upns


def book(runtime: Runtime, prefix: str, mailboxes: int, bookings: int) -> float:
    """Store `bookings` per mailbox in one transaction; when its commit began."""
    staff = staff_keys(mailboxes)
    with runtime.sessions() as session:
        for i in range(mailboxes * bookings):
            f.book(session, f"{prefix}{i}", staff[i % mailboxes], f.slot(i // mailboxes))
        committing = time.perf_counter()
        session.commit()
    return committing


@contextmanager
def database(kind: str, sqlite_file: Path) -> Iterator[str]:
    """A fresh store: a SQLite file, or a schema of its own on $SYNCD_TEST_DATABASE_URL."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    with postgres_schema_url() as url:
        yield url


# Polled while the worker runs in this process; seldom, so as not to compete with it.
ANY_PENDING = select(exists().where(Mirror.pending.is_(True), Mirror.dead.is_(False)))
LAST_WRITTEN = select(func.max(Mirror.updated_at))
POLL_SECONDS = 0.05


def any_pending(connection: SqlConnection) -> bool:
    with connection.begin():
        return bool(connection.scalar(ANY_PENDING))


def last_written(connection: SqlConnection) -> datetime:
    with connection.begin():
        found = connection.scalar(LAST_WRITTEN)
    assert found is not None
    return as_utc(found)


async def converged(runtime: Runtime, offset: float) -> float:
    """Wait until no mirror is pending; when the last result was stored (perf_counter).

    That moment is the newest mirror row's `updated_at`, read once all are converged:
    the store's own record, so the polling's interval adds nothing to it."""
    with runtime.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        while await asyncio.to_thread(any_pending, connection):
            await asyncio.sleep(POLL_SECONDS)
        return last_written(connection).timestamp() - offset


async def mirror(
    runtime: Runtime, double: DoubleProcess, args: argparse.Namespace
) -> tuple[float, float, float]:
    """Seconds of the warm-up, seconds from the commit until converged, wall clock at commit."""
    from syncd.serve import build_connectors

    connectors = build_connectors(runtime)
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(runtime, connectors).run(stop))
    offset = time.time() - time.perf_counter()
    warm_commit = await asyncio.to_thread(book, runtime, "warm", args.mailboxes, 1)
    warm_up = await converged(runtime, offset) - warm_commit
    await asyncio.sleep(0.3)  # the worker finishes its passes and goes idle
    double.reset_stats()
    committed = await asyncio.to_thread(book, runtime, "b", args.mailboxes, args.bookings)
    elapsed = await converged(runtime, offset) - committed
    stop.set()
    await worker
    for connector in connectors.values():
        await connector.aclose()
    return warm_up, elapsed, committed + offset


def one_round(
    double: DoubleProcess, workdir: Path, round_no: int, args: argparse.Namespace
) -> tuple[float, float, float]:
    """Seconds until converged, the longest time one mailbox took at Graph, the raw loop's."""
    with database(args.database, workdir / f"syncd-{round_no}.db") as url:
        runtime = runtime_for(double, workdir, url, args)
        upns = seed(double, runtime, args.mailboxes)
        warm_up, elapsed, started = asyncio.run(mirror(runtime, double, args))
        runtime.close()
    counts = {double.event_count(upn) for upn in upns}
    assert counts == {args.bookings + 1}, f"events per mailbox: {counts}"
    stats = double.stats()
    peak = max(stats["peak_in_flight"][upn] for upn in upns)
    print(
        f"round {round_no + 1}: {elapsed:.2f}s ({elapsed / ideal(args):.2f}x ideal; "
        f"warm-up {warm_up:.2f}s), {stats['requests']} HTTP requests "
        f"({stats['batch_items']} batch items, {stats['token_requests']} token requests), "
        f"peak in flight per mailbox {peak}, early requests {stats['early_requests']}; "
        f"batches answered from {min(stats['answered']) - started:.2f}s "
        f"to {max(stats['answered']) - started:.2f}s; "
        f"each mailbox's writes took {min(stats['spans']):.2f}s to {max(stats['spans']):.2f}s",
        flush=True,
    )
    raw_upns = [new_mailbox(double) for _ in range(args.mailboxes)]
    raw = raw_loop(double, raw_upns, args.bookings, f"raw{round_no}")
    print(f"round {round_no + 1}: raw httpx loop {raw:.2f}s; syncd / raw {elapsed / raw:.2f}x",
          flush=True)
    return elapsed, max(stats["spans"]), raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=40)
    parser.add_argument("--bookings", type=int, default=20, help="per mailbox")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--reconcile", action="store_true", help="also run the reconcile pass after the writes"
    )
    args = parser.parse_args()
    times, spans, raws = [], [], []
    with tempfile.TemporaryDirectory() as tmp, DoubleProcess(args.latency) as double:
        for round_no in range(args.rounds):
            elapsed, span, raw = one_round(double, Path(tmp), round_no, args)
            times.append(elapsed)
            spans.append(span)
            raws.append(raw)
    best, median, target = min(times), statistics.median(times), ideal(args)
    print(
        f"\n{args.mailboxes} mailboxes x {args.bookings} bookings, {args.latency}s per request, "
        f"store on {args.database}"
    )
    print(f"ideal: ceil({args.bookings}/4) x {args.latency}s = {target:.2f}s")
    print(f"syncd, commit to converged: median {median:.2f}s, best {best:.2f}s")
    print(f"ratio: median {median / target:.2f}x, best {best / target:.2f}x (target <= {TARGET}x)")
    raw = statistics.median(raws)
    print(f"raw httpx loop, same batches and limits: median {raw:.2f}s")
    print(f"syncd / raw loop: median {median / raw:.2f}x (target <= {RAW_TARGET}x)")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    span = statistics.median(spans)
    print(
        f"at Graph, the slowest mailbox's writes: median {span:.2f}s, "
        f"{span / target:.2f}x the ideal (the rest is the worker and the store)"
    )


def ideal(args: argparse.Namespace) -> float:
    return math.ceil(args.bookings / 4) * args.latency


if __name__ == "__main__":
    main()

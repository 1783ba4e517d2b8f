"""Many accounts against one: 1,000 stored CalDAV accounts with one calendar each, against
one configured account with 1,000 calendars, the same 5,000 bookings (issue 21).

    .venv/bin/python bench/accounts.py [--accounts 1000] [--bookings-each 5] [--rounds 3]
                                       [--databases sqlite,postgresql]

Case "one": a `[connectors.local]` CalDAV account in the config file, with a
binding (a staff member's calendar) per calendar. Case "many": as many accounts
stored as data (each its own user name and password, sealed with the config's
[keys]), each with one binding. Both write to bench/fast_dav.py, a CalDAV server
that does almost nothing per request (it takes any user name), so the worker,
not the server, is what is measured. Each case gets a fresh database and
server; everything is stored with the calendars held back, a `syncd worker`
(its own process, started and idle before) is released and the clock runs
until nothing is pending. Then every booking must be written, and the worker's
peak resident memory (VmHWM) and CPU are read from /proc.
Targets: many/one <= 1.3x in time and <= 1.5x in peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cost import FastDav, database, load, release_and_converge
from cryptography.fernet import Fernet
from scale import booking_body, cpu_seconds, hold_calendars, started_workers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, StaffIn
from syncd.store import accounts
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant, upsert_binding, upsert_staff
from syncd.store.models import Merchant, Mirror, Presence, Staff
from syncd.store.schema import upgrade
from syncd.store.sealing import Sealer
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.e2e.conftest import write_config

CONFIGURED = "local"  # the config file's account (tests.e2e.conftest.write_config names it)
PER_CALENDAR = 4
BATCH = 500
TIME_TARGET, MEMORY_TARGET = 1.3, 1.5


@dataclass(frozen=True)
class Shape:
    accounts: int  # calendars, and in the "many" case accounts
    bookings_each: int
    calendars_in_parallel: int

    @property
    def bookings(self) -> int:
        return self.accounts * self.bookings_each


@dataclass(frozen=True)
class Figure:
    seconds: float
    peak_mib: float  # the worker's VmHWM
    idle_mib: float  # its VmRSS when ready, before the release
    cpu_seconds: float


@dataclass
class Figures:
    one: list[Figure] = field(default_factory=list)
    many: list[Figure] = field(default_factory=list)


def calendar_path(index: int) -> str:
    return f"/cal{index}/"


def staff(session: Session, shop: Merchant, index: int) -> Staff:
    details = StaffIn(name=f"S{index}", timezone="Europe/Berlin")
    member, _ = upsert_staff(session, shop, f"s{index}", details)
    return member


def seed_one(session: Session, shop: Merchant, shape: Shape, _: Sealer, url: str) -> None:
    """One configured account, a calendar (and staff member) per index."""
    for i in range(shape.accounts):
        binding = BindingIn(connector=CONFIGURED, calendar_id=calendar_path(i))
        upsert_binding(session, staff(session, shop, i), f"s{i}-cal", binding, {CONFIGURED})


def seed_many(session: Session, shop: Merchant, shape: Shape, sealer: Sealer, url: str) -> None:
    """An account stored as data per index, each with its own login and one calendar."""
    for i in range(shape.accounts):
        settings = {"kind": "caldav", "url": url, "username": f"user{i}",
                    "concurrency_per_calendar": PER_CALENDAR}
        change = accounts.AccountChange("caldav", settings, sealer.seal(f"password-{i}"))
        accounts.upsert_account(session, shop, f"a{i}", change)
        binding = BindingIn(account=f"a{i}", calendar_id=calendar_path(i))
        upsert_binding(session, staff(session, shop, i), f"s{i}-cal", binding, set())


Seeder = Callable[[Session, Merchant, Shape, Sealer, str], None]
CASES: dict[str, Seeder] = {"one": seed_one, "many": seed_many}


def seed(runtime: Runtime, seeder: Seeder, shape: Shape, url: str) -> None:
    """The calendars, held back, then the bookings, `bookings_each` per calendar."""
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        seeder(session, shop, shape, runtime.connectors.sealer(), url)
        hold_calendars(session, until=utcnow().replace(year=utcnow().year + 1))
    for first in range(0, shape.bookings, BATCH):
        with runtime.sessions.begin() as session:
            shop = get_merchant(session, "acme")
            for i in range(first, min(first + BATCH, shape.bookings)):
                body = booking_body(f"s{i % shape.accounts}", i // shape.accounts)
                put_booking(session, shop, f"b{i}", body)


def written(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        query = select(func.count()).select_from(Mirror).where(Mirror.actual == Presence.PRESENT)
        return session.scalar(query) or 0


def memory_mib(pid: int, field_name: str) -> float:
    """A `Vm*` line of /proc/<pid>/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field_name} for process {pid}")


def config_for(workdir: Path, name: str, url: str, server: FastDav, shape: Shape) -> Path:
    """The worker's configuration: the configured account, and the keys that seal stored ones."""
    password, keys = workdir / f"{name}.password", workdir / f"{name}.keys"
    password.write_text("bench-password")
    keys.write_text(Fernet.generate_key().decode())
    connector = {"kind": "caldav", "url": server.url + "/", "username": "bench",
                 "password_file": str(password), "concurrency_per_calendar": PER_CALENDAR}
    config = write_config(workdir / f"{name}.toml", url, connector,
                          calendars_in_parallel=shape.calendars_in_parallel,
                          lease_seconds=60.0, sweep_interval_seconds=0.2)
    with config.open("a") as out:
        out.write(f'\n[keys]\nencryption_keys_file = "{keys}"\n')
    return config


def measure(kind: str, case: str, shape: Shape, workdir: Path, name: str) -> Figure:
    server = FastDav()
    try:
        with database(kind, workdir, name) as url:
            config = config_for(workdir, name, url, server, shape)
            runtime = build_runtime(load_config(config, environ={}))
            try:
                upgrade(runtime.engine)
                seed(runtime, CASES[case], shape, server.url + "/")
                figure = converge(runtime, config, workdir, name)
                if (done := written(runtime)) != shape.bookings:
                    raise AssertionError(f"{case}: {done} events written of {shape.bookings}")
                return figure
            finally:
                runtime.close()
    finally:
        server.stop()


def converge(runtime: Runtime, config: Path, workdir: Path, name: str) -> Figure:
    """Release the calendars to a ready worker; its figures once nothing is pending."""
    with started_workers(config, workdir, name, 1) as [worker]:
        assert worker.process is not None
        pid = worker.process.pid
        idle, cpu = memory_mib(pid, "VmRSS"), cpu_seconds(pid)
        started = time.perf_counter()
        release_and_converge(runtime)
        seconds = time.perf_counter() - started
        return Figure(seconds, memory_mib(pid, "VmHWM"), idle, cpu_seconds(pid) - cpu)


def median(figures: list[Figure], pick: Callable[[Figure], float]) -> float:
    return statistics.median(pick(figure) for figure in figures)


def verdict(ratio: float, target: float) -> str:
    return f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}"


def row(label: str, runs: list[Figure]) -> str:
    seconds, peak = median(runs, lambda r: r.seconds), median(runs, lambda r: r.peak_mib)
    idle, cpu = median(runs, lambda r: r.idle_mib), median(runs, lambda r: r.cpu_seconds)
    return f"  {label:<26}  {seconds:7.2f}  {peak:8.1f}  {idle:8.1f}  {cpu:12.2f}"


def report(kind: str, figures: Figures, shape: Shape) -> None:
    print(f"\n{kind}: {shape.bookings} bookings on {shape.accounts} calendars, median of "
          f"{len(figures.one)} round(s); at most {shape.calendars_in_parallel} calendars at once")
    print("  case                        seconds  peak MiB  idle MiB  worker cpu s")
    print(row(f"one account x {shape.accounts} cal", figures.one))
    print(row(f"{shape.accounts} accounts x 1 cal", figures.many))
    seconds = median(figures.many, lambda r: r.seconds) / median(figures.one, lambda r: r.seconds)
    memory = median(figures.many, lambda r: r.peak_mib) / median(figures.one, lambda r: r.peak_mib)
    print(f"  time   many/one = {seconds:.2f}x ({verdict(seconds, TIME_TARGET)})")
    print(f"  memory many/one = {memory:.2f}x ({verdict(memory, MEMORY_TARGET)})")


def run_rounds(kind: str, shape: Shape, rounds: int, workdir: Path) -> Figures:
    """Both cases each round, their order swapped every other round."""
    figures = Figures()
    for round_no in range(rounds):
        order = ["one", "many"] if round_no % 2 == 0 else ["many", "one"]
        for case in order:
            figure = measure(kind, case, shape, workdir, f"{kind}-{case}{round_no}")
            getattr(figures, case).append(figure)
            print(f"  {kind} round {round_no + 1} {case}: {figure.seconds:.2f}s, peak "
                  f"{figure.peak_mib:.1f} MiB, cpu {figure.cpu_seconds:.2f}s (load {load()})")
    return figures


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--bookings-each", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calendars-in-parallel", type=int, default=256)
    parser.add_argument("--databases", default="sqlite",
                        type=lambda s: [name for name in s.split(",") if name])
    return parser.parse_args()


def main() -> None:
    args = arguments()
    shape = Shape(args.accounts, args.bookings_each, args.calendars_in_parallel)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ["SYNCD_METRICS__PORT"] = "0"
    os.environ["SYNCD_METRICS__DATABASE_GAUGES"] = "false"
    os.environ["SYNCD_RECONCILE__ENABLED"] = "false"  # writes only
    print(f"load average before: {load()}; {os.cpu_count()} CPUs for everything")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["SYNCD_MAIL__DIRECTORY"] = str(workdir / "mail")
        for kind in args.databases:
            report(kind, run_rounds(kind, shape, args.rounds, workdir), shape)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()

"""One reconcile pass over a big calendar after a few changes, against the server's own
sync REPORT, a full etag listing, and vdirsyncer; on a local Xandikos and a local Radicale.

    .venv/bin/python bench/reconcile.py [--events 10000] [--rounds 3] [--servers xandikos,radicale]
                                        [--rule booking_wins|calendar_wins|flag]

Set-up, per server (not timed):
- The collection is made with MKCALENDAR, the server is stopped, and `--events` events
  (one every 3 hours from two years ago on: most outside the watched window) are
  written into its storage directly: Radicale gets one .ics file per event in the
  collection's folder and its `.Radicale.cache` is deleted, so it rebuilds its caches
  (one time-range REPORT over all of them, untimed, makes it do so at once);
  Xandikos gets the files in the collection's git work tree, all added and committed in
  one commit (dulwich), as its store would hold them.
- syncd (SQLite; the merchant's rule `--rule`, by default syncd's default `booking_wins`)
  books 40 appointments on the calendar; its worker writes them and makes the first,
  complete pass. The worker does not run during the rounds: a pass marks the events it
  puts back for the worker, which writes nothing meanwhile, so every measurement sees the
  same 10 changes (`flag` opens a conflict, with its notices and webhook, per change to
  syncd's events instead).
- vdirsyncer (installed on first run into bench/.venv-vdirsyncer, apart from syncd's own
  dependencies) syncs the collection to a local folder once.

Then each round makes 10 changes as another client would (3 of syncd's events moved,
1 deleted; 3 other events moved, 1 deleted, 2 added) and measures, from the same state:
- the raw sync-collection REPORT with the old token, sent by httpx (the server's own time
  for these changes), after one untimed request that lets the server refresh its caches
  after the changes, so that both sides find them warm,
- a full etag listing (PROPFIND Depth 1, fetched and parsed),
- one syncd reconcile pass (its requests counted; store work included); the raw REPORT
  and the pass are taken in turns, three times each (syncd's SQLite file is put back
  before each repeated pass, so each makes the same pass), and the medians compared,
- `vdirsyncer sync` of the same collection (the process, as a user runs it).
Targets: the pass's requests depend on the changes, not on the calendar's size; the pass
within 1.5x of the raw sync REPORT; at least 10x faster than vdirsyncer on Xandikos and
3x on Radicale. The figures printed are medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from connectors.caldav import CalDAVConnector, reports
from syncd.reconcile.passes import reconcile_pass
from syncd.reconcile.state import request_pass
from syncd.store.dbthread import DatabaseThreads
from tests.reconcile.hands import DavHands
from tests.reconcile.recording import Recording, recorded_connector
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for
from tests.servers import DavServer, RadicaleServer, XandikosServer

BENCH = Path(__file__).resolve().parent
VDIRSYNCER_VENV = BENCH / ".venv-vdirsyncer"
BOOKINGS = 40
SPACING = timedelta(hours=3)
FIRST_EVENT = (datetime.now(UTC) - timedelta(days=730)).replace(minute=0, second=0,
                                                                 microsecond=0)
TARGET_RAW, TARGET_VDIR = 1.5, {"xandikos": 10.0, "radicale": 3.0}


def foreign_ics(uid: str, start: datetime) -> bytes:
    end = start + HOUR
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{end:%Y%m%dT%H%M%SZ}\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def seed_time(number: int) -> datetime:
    return FIRST_EVENT + number * SPACING


# -- seeding the storage directly ---------------------------------------------------------


def write_events(folder: Path, events: int) -> list[str]:
    names = []
    for number in range(events):
        name = f"seed-{number}.ics"
        (folder / name).write_bytes(foreign_ics(f"seed-{number}", seed_time(number)))
        names.append(name)
    return names


def seed_radicale(server: RadicaleServer, events: int) -> None:
    # Radicale refuses a REPORT answer holding more than 10,000 VEVENTs (anti-DoS), which
    # vdirsyncer's one multiget of the whole collection would; syncd's multigets are batched
    with server.config_file.open("a") as config:
        config.write("[reporting]\nmax_expand_occurrence = 1000000\n")
    folder = server.data_dir / "collections" / "collection-root" / server.username / "work"
    write_events(folder, events)
    shutil.rmtree(folder / ".Radicale.cache", ignore_errors=True)  # rebuilt on first use


def seed_xandikos(server: XandikosServer, events: int) -> None:
    from dulwich import porcelain  # xandikos's own git library

    folder = server.data_dir / "dav" / "user" / "calendars" / "work"
    names = write_events(folder, events)
    porcelain.add(str(folder), paths=[str(folder / name) for name in names])
    porcelain.commit(str(folder), message=b"seed", author=b"bench <bench@localhost>",
                     committer=b"bench <bench@localhost>")


def warm(server: DavServer, collection: str) -> None:
    """Read every object once, so the server builds its caches before anything is timed
    (Radicale parses each file on first use; its first write would otherwise time out)."""
    query = reports.etags_in_range(FIRST_EVENT - SPACING, FIRST_EVENT + 10**6 * SPACING)
    with server.http_client() as client:
        response = client.request("REPORT", collection, content=query, timeout=1800,
                                  headers={"Depth": "1", "Content-Type": "application/xml"})
    response.raise_for_status()


# -- vdirsyncer, in a venv of its own -------------------------------------------------------


def vdirsyncer() -> Path:
    binary = VDIRSYNCER_VENV / "bin" / "vdirsyncer"
    if not binary.exists():
        print("installing vdirsyncer into", VDIRSYNCER_VENV, flush=True)
        venv.create(VDIRSYNCER_VENV, with_pip=True)
        pip = [str(VDIRSYNCER_VENV / "bin" / "pip"), "install", "--quiet", "vdirsyncer"]
        subprocess.run(pip, check=True)
    return binary


@dataclass
class Vdir:
    binary: Path
    config: Path

    @classmethod
    def configure(cls, server: DavServer, collection: str, folder: Path) -> Vdir:
        verify = f'verify = "{server.ca_file}"\n' if server.ca_file else ""
        config = folder / "vdirsyncer.conf"
        config.write_text(
            f'[general]\nstatus_path = "{folder / "status"}/"\n\n'
            '[pair cal]\na = "local"\nb = "remote"\ncollections = null\n\n'
            f'[storage local]\ntype = "filesystem"\npath = "{folder / "local"}/"\n'
            'fileext = ".ics"\n\n'
            f'[storage remote]\ntype = "caldav"\nurl = "{server.url}{collection}"\n'
            f'username = "{server.username}"\n'
            f'password.fetch = ["command", "cat", "{server.password_file}"]\n{verify}'
        )
        (folder / "local").mkdir()
        return cls(vdirsyncer(), config)

    def run(self, *command: str) -> float:
        started = time.perf_counter()
        done = subprocess.run([str(self.binary), "-c", str(self.config), *command],
                              capture_output=True, input=b"y\n" * 4, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"vdirsyncer {' '.join(command)} failed:\n"
                               f"{done.stderr.decode(errors='replace')[-3000:]}")
        return time.perf_counter() - started


# -- one server under test ------------------------------------------------------------------


@dataclass
class Subject:
    name: str
    server: DavServer
    shop: Shop
    vdir: Vdir
    raw: httpx.AsyncClient
    events: int
    # syncd's own connector for the timed passes, kept like the worker keeps its one
    connector: CalDAVConnector
    recording: Recording
    figures: dict[str, list[float]] = field(default_factory=dict)
    requests: list[Counter[str]] = field(default_factory=list)

    def note(self, what: str, value: float) -> None:
        self.figures.setdefault(what, []).append(value)


async def prepare(server: DavServer, folder: Path, events: int, rule: str) -> Subject:
    name = type(server).__name__.removesuffix("Server").lower()
    server.start()
    collection = server.create_collection("work")
    server.stop()
    (seed_radicale if isinstance(server, RadicaleServer) else seed_xandikos)(server, events)
    server.start()
    warm(server, collection)
    hands = DavHands(server)
    shop = Shop(migrated(settings_for(f"sqlite:///{folder / 'syncd.db'}", hands)), hands,
                collection)
    shop.seed(rule)
    for number in range(BOOKINGS):
        shop.book(f"b{number}", START + number * 2 * HOUR)
    started = time.perf_counter()
    await shop.settle(timeout=900)
    print(f"{name}: {events} events seeded; syncd wrote {BOOKINGS} bookings and made its "
          f"first, complete pass in {time.perf_counter() - started:.1f} s", flush=True)
    vdir = Vdir.configure(server, collection, folder)
    vdir.run("discover")
    try:
        first_sync = vdir.run("sync")
    except RuntimeError as error:  # once more, after a first sync cut short, as a user would
        print(f"{name}: {error}\nserver log: {server.log_file.read_text()[-1500:]}", flush=True)
        first_sync = vdir.run("sync")
    print(f"{name}: vdirsyncer's first sync took {first_sync:.1f} s", flush=True)
    raw = httpx.AsyncClient(base_url=server.url, auth=(server.username, server.password),
                            verify=server.tls_verify(), timeout=300)
    connector, recording = recorded_connector(server)
    return Subject(name, server, shop, vdir, raw, events, connector, recording)


async def change(subject: Subject, round_no: int) -> None:
    """Ten changes from another client: syncd's events moved and deleted, others too."""
    shop, collection = subject.shop, subject.shop.calendar_id
    first = 4 * round_no
    for number in range(first, first + 3):
        start = START + number * 2 * HOUR + HOUR
        await shop.hands.move(collection, shop.href(f"b{number}"), start, start + HOUR)
    await shop.hands.delete(collection, shop.href(f"b{first + 3}"))
    seed = subject.events // 2 + 10 * round_no
    for number in range(seed, seed + 3):
        body = foreign_ics(f"seed-{number}", seed_time(number) + HOUR)
        await _ok(subject.raw.put(f"{collection}seed-{number}.ics", content=body))
    await _ok(subject.raw.delete(f"{collection}seed-{seed + 3}.ics"))
    for number in range(2):
        uid = f"extra-{round_no}-{number}"
        body = foreign_ics(uid, START + timedelta(days=3 + number))
        await _ok(subject.raw.put(f"{collection}{uid}.ics", content=body))


async def _ok(request: Awaitable[httpx.Response]) -> None:
    (await request).raise_for_status()


async def raw_sync(subject: Subject, token: str) -> float:
    headers = {"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}
    started = time.perf_counter()
    response = await subject.raw.request("REPORT", subject.shop.calendar_id,
                                         content=reports.sync_collection(token), headers=headers)
    response.raise_for_status()
    return time.perf_counter() - started


async def etag_listing(subject: Subject) -> tuple[float, int]:
    headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
    started = time.perf_counter()
    response = await subject.raw.request("PROPFIND", subject.shop.calendar_id,
                                         content=reports.ETAG_PROPFIND, headers=headers)
    response.raise_for_status()
    listed = reports.parse_multistatus(response.content)
    return time.perf_counter() - started, len(listed)


async def one_pass(subject: Subject) -> tuple[float, float, Counter[str], str]:
    """One timed pass: its time, the time its requests took, their kinds, what it found."""
    runtime = subject.shop.runtime
    calendar = subject.connector.calendar(subject.shop.calendar_id)
    db = DatabaseThreads(runtime.sessions)
    binding_id = subject.shop.binding_id()
    try:
        with runtime.sessions.begin() as session:
            request_pass(session, binding_id)
        # untimed, as the raw side's: a live connection (TLS) to the server
        await calendar.propfind(reports.CALENDAR_PROPFIND, depth="0")
        subject.recording.clear()
        started = time.perf_counter()
        summary = await reconcile_pass(db, calendar, binding_id, runtime.settings.reconcile)
        elapsed = time.perf_counter() - started
    finally:
        db.close()
    assert summary is not None, "a pass was due"
    assert not summary.complete, "the pass must be a delta"
    found = (f"{summary.changed} changed, {summary.removed} removed, "
             f"{summary.rewritten} to put back, {summary.opened} conflicts opened")
    waited = sum(subject.recording.seconds)
    each = ", ".join(f"{kind.removeprefix('REPORT ')} {seconds:.3f} s" for kind, seconds
                     in zip(subject.recording.kinds, subject.recording.seconds, strict=True))
    return elapsed, waited, Counter(subject.recording.kinds), f"{found}; {each}"


class Snapshot:
    """syncd's SQLite file as it was before a pass, to make the same pass again."""

    def __init__(self, subject: Subject) -> None:
        self.runtime = subject.shop.runtime
        self.path = Path(str(self.runtime.engine.url.database))
        self.runtime.engine.dispose()  # the last connection folds the WAL into the file
        self.copy = self.path.with_suffix(".before-pass")
        shutil.copyfile(self.path, self.copy)

    def restore(self) -> None:
        self.runtime.engine.dispose()
        for stale in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(self.copy, self.path)


async def measure(subject: Subject, round_no: int) -> None:
    """Raw sync REPORT and pass taken in turns, three times each, from the same state."""
    await change(subject, round_no)
    token = subject.shop.state().cursor
    assert token is not None
    await raw_sync(subject, token)  # untimed: the first answer after changes refreshes caches
    listing, listed = await etag_listing(subject)
    snapshot = Snapshot(subject)
    raws, passes = [], []
    for turn in range(3):
        raws.append(await raw_sync(subject, token))
        if turn:
            snapshot.restore()
        passes.append(await one_pass(subject))
    seconds, waited, requests, found = sorted(passes)[1]
    subject.note("raw", statistics.median(raws))
    subject.note("listing", listing)
    subject.note("listed", listed)
    subject.note("pass", seconds)
    subject.note("pass requests", waited)
    subject.requests.append(requests)
    subject.note("vdirsyncer", subject.vdir.run("sync"))
    print(f"{subject.name} round {round_no + 1}: pass {seconds:.3f} s ({found}), "
          f"raw sync REPORT {subject.figures['raw'][-1]:.3f} s, etag listing {listing:.3f} s, "
          f"vdirsyncer {subject.figures['vdirsyncer'][-1]:.3f} s", flush=True)


def report(subject: Subject) -> None:
    median = {what: statistics.median(values) for what, values in subject.figures.items()}
    requests = subject.requests[-1]
    count = sum(requests.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(requests.items()))
    raw_ratio = median["pass"] / median["raw"]
    vdir_ratio = median["vdirsyncer"] / median["pass"]
    print(f"\n{subject.name}: {subject.events} events + {BOOKINGS} bookings, 10 changes, "
          f"median of {len(subject.figures['pass'])} rounds")
    print(f"  reconcile pass      {median['pass']:8.3f} s  {count} requests ({kinds})")
    own = median["pass"] - median["pass requests"]
    print(f"    of which waiting for the server {median['pass requests']:.3f} s, syncd's own "
          f"work (parsing, the store's transactions) {own:.3f} s")
    print(f"  raw sync REPORT     {median['raw']:8.3f} s  1 request      "
          f"pass/raw = {raw_ratio:.2f}  (target <= {TARGET_RAW})  "
          f"{'ok' if raw_ratio <= TARGET_RAW else 'MISSED'}")
    print(f"  full etag listing   {median['listing']:8.3f} s  1 request      "
          f"({int(median['listed'])} hrefs fetched and parsed)")
    target = TARGET_VDIR[subject.name]
    print(f"  vdirsyncer sync     {median['vdirsyncer']:8.3f} s                 "
          f"vdirsyncer/pass = {vdir_ratio:.1f}  (target >= {target})  "
          f"{'ok' if vdir_ratio >= target else 'MISSED'}")
    every = {sum(r.values()) for r in subject.requests}
    print(f"  requests per pass in every round: {sorted(every)} "
          f"(for 10 changes; the calendar holds {int(median['listed'])} objects)")


async def run(server: DavServer, folder: Path, args: argparse.Namespace) -> None:
    subject = await prepare(server, folder, args.events, args.rule)
    try:
        for round_no in range(args.rounds):
            await measure(subject, round_no)
        report(subject)
    finally:
        await subject.raw.aclose()
        await subject.connector.aclose()
        await subject.shop.hands.aclose()
        subject.shop.runtime.close()
        server.stop()


SERVERS: dict[str, type[DavServer]] = {"xandikos": XandikosServer, "radicale": RadicaleServer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="xandikos,radicale")
    parser.add_argument("--rule", default="booking_wins",
                        choices=("booking_wins", "calendar_wins", "flag"))
    args = parser.parse_args()
    # a stopped run stops its servers and removes its folders too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    vdirsyncer()
    for name in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            folder = Path(tmp)
            server = SERVERS[name](folder / "server")
            asyncio.run(run(server, folder, args))


if __name__ == "__main__":
    main()

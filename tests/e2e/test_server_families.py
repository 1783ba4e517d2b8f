"""Each CalDAV server family through the worker: a move, lost state, the DST repeated hour.

Every test runs on Radicale, Xandikos, Cyrus and DAViCal (`family_server`),
each with the calendars of CALENDARS in one account: on Cyrus a UID is unique
across them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import build_connector
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.schemas import ServiceIn
from syncd.store.catalog import upsert_service
from syncd.store.models import Booking, CalendarBinding, Mirror
from syncd.store.schema import upgrade
from syncd.timeutil import as_utc, utcnow
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.caldav_listing import ListedEvent, list_events
from tests.e2e.conftest import CALENDARS, pending_count
from tests.servers import DavServer

BOOKINGS = 8
# Berlin leaves DST on 2026-10-25 at 01:00 UTC: 02:00-03:00 local happens twice.
REPEATED_HOUR = (
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
)

pytestmark = pytest.mark.slow

Step = tuple[Callable[[Runtime], bool], Callable[[Runtime], None]]  # when, then what


def family_runtime(path: Path, server: DavServer) -> Runtime:
    """A fresh store (its own SQLite file) whose staff are bound to the server's calendars."""
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{path}"},
        "worker": {"max_attempts": 5, "backoff_base_seconds": 0.05,
                   "backoff_max_seconds": 0.5, "sweep_interval_seconds": 0.5},
        "connectors": {"local": server.connector_settings()},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        upsert_service(session, shop, "cut", ServiceIn(name="Haircut", duration_minutes=60))
        for name in CALENDARS:
            f.staff_with_calendar(session, shop, name, server.collection_path(name))
    return runtime


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[Callable[[str, DavServer], Runtime]]:
    made: list[Runtime] = []

    def make(name: str, server: DavServer) -> Runtime:
        made.append(family_runtime(tmp_path / f"{name}.db", server))
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()


def converge(runtime: Runtime, *steps: Step) -> None:
    """Run a worker until nothing is pending, taking `steps` in turn while it runs."""
    asyncio.run(_converge(runtime, steps))


async def _converge(runtime: Runtime, steps: tuple[Step, ...]) -> None:
    # A connector per run: its HTTP client belongs to this run's event loop.
    tables = runtime.settings.connectors
    connectors = {name: build_connector(table) for name, table in tables.items()}
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(runtime, connectors).run(stop))
    try:
        async with asyncio.timeout(60):
            for done, then in steps:
                await _wait_for(done, runtime)
                await asyncio.to_thread(then, runtime)
            await _wait_for(lambda r: pending_count(r) == 0, runtime)
    finally:
        stop.set()
        await worker
        await asyncio.gather(*(c.aclose() for c in connectors.values()))


async def _wait_for(check: Callable[[Runtime], bool], runtime: Runtime) -> None:
    while not await asyncio.to_thread(check, runtime):
        await asyncio.sleep(0.05)


def book(runtime: Runtime, key: str, staff: str, start: datetime) -> str:
    with runtime.sessions.begin() as session:
        return f.book(session, key, staff, start).uid


def on_calendars(server: DavServer) -> dict[str, list[ListedEvent]]:
    return {name: list_events(server, server.collection_path(name)) for name in CALENDARS}


def uids_on(server: DavServer) -> dict[str, list[str]]:
    return {name: sorted(e.uid for e in events) for name, events in on_calendars(server).items()}


def dead_letters(runtime: Runtime) -> list[Mirror]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(Mirror).where(Mirror.dead.is_(True))))


def binding_of(session: Session, staff: str) -> CalendarBinding:
    query = select(CalendarBinding).where(CalendarBinding.key == f"{staff}-cal")
    return session.scalars(query).one()


def hold(runtime: Runtime, staff: str, until: datetime | None) -> None:
    """Pause (or resume) the staff member's calendar, as an outage of it would."""
    with runtime.sessions.begin() as session:
        binding_of(session, staff).paused_until = until


def tried_on(staff: str) -> Callable[[Runtime], bool]:
    """Whether the worker has written, or tried to write, to the staff member's calendar."""
    def check(runtime: Runtime) -> bool:
        with runtime.sessions.begin() as session:
            binding = binding_of(session, staff)
            mirrors = session.scalars(select(Mirror).where(Mirror.binding_id == binding.id))
            return any(m.attempts or not m.pending for m in mirrors)
    return check


def test_a_move_between_calendars_of_one_account_lands_on_the_new_one(
    family_server: DavServer, runtimes: Callable[[str, DavServer], Runtime]
) -> None:
    runtime = runtimes("store", family_server)
    uid = book(runtime, "b-move", "alice", f.slot(1))
    converge(runtime)
    # The old calendar's removal is held back until the new one was tried: on Cyrus
    # (UIDs unique per account) that first create meets the UID still on the old one.
    hold(runtime, "alice", utcnow() + timedelta(hours=1))
    book(runtime, "b-move", "bob", f.slot(2))
    converge(runtime, (tried_on("bob"), lambda r: hold(r, "alice", None)))
    assert uids_on(family_server) == {"alice": [], "bob": [uid], "carol": [], "dave": []}
    (event,) = on_calendars(family_server)["bob"]
    assert (event.start, event.end) == (f.slot(2), f.slot(4))
    assert dead_letters(runtime) == []


def resave_under_another_name(server: DavServer, calendar: str, uid: str) -> None:
    """What a calendar client does that stores events under names of its own."""
    path = server.collection_path(calendar)
    href = _href_of(server, path, uid)
    with server.http_client() as client:
        body = client.get(href).raise_for_status().content
        client.delete(href).raise_for_status()
        client.put(
            f"{path}client-{uid[:8]}.ics", content=body,
            headers={"Content-Type": "text/calendar", "If-None-Match": "*"},
        ).raise_for_status()


def _href_of(server: DavServer, path: str, uid: str) -> str:
    query = (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:prop-filter name="UID"><C:text-match collation="i;octet">{uid}</C:text-match>'
        "</C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
    with server.http_client() as client:
        answer = client.request("REPORT", path, content=query.encode(),
                                headers={"Depth": "1", "Content-Type": "application/xml"})
    answer.raise_for_status()
    start = answer.text.index("href>") + len("href>")
    return httpx.URL(answer.text[start:answer.text.index("<", start)]).path


def test_a_relink_after_the_store_is_wiped_adopts_every_event(
    family_server: DavServer, runtimes: Callable[[str, DavServer], Runtime]
) -> None:
    first = runtimes("first", family_server)
    placed = {f"b{i}": (CALENDARS[i % 2], f.slot(i)) for i in range(BOOKINGS)}
    uids = {key: book(first, key, staff, start) for key, (staff, start) in placed.items()}
    converge(first)
    resave_under_another_name(family_server, "alice", uids["b0"])
    rebuilt = runtimes("rebuilt", family_server)  # the same bookings, no memory of the events
    for key, (staff, start) in placed.items():
        book(rebuilt, key, staff, start)
    converge(rebuilt)
    assert dead_letters(rebuilt) == []
    listed = uids_on(family_server)
    assert listed["alice"] == sorted(uids[k] for k, (s, _) in placed.items() if s == "alice")
    assert listed["bob"] == sorted(uids[k] for k, (s, _) in placed.items() if s == "bob")


def test_a_booking_in_the_repeated_hour_is_read_back_at_its_instants(
    family_server: DavServer, runtimes: Callable[[str, DavServer], Runtime]
) -> None:
    runtime = runtimes("store", family_server)
    uid = book(runtime, "b-dst", "carol", REPEATED_HOUR[0])
    converge(runtime)
    with runtime.sessions.begin() as session:
        booking = session.scalars(select(Booking).where(Booking.uid == uid)).one()
        assert (as_utc(booking.start), as_utc(booking.end)) == REPEATED_HOUR
    (event,) = on_calendars(family_server)["carol"]
    assert (event.uid, event.start, event.end) == (uid, *REPEATED_HOUR)
    assert dead_letters(runtime) == []

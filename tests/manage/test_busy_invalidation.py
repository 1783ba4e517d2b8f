"""A change a reconcile pass sees on a watched calendar reaches the listings at once: the busy
time the listings stored over it is dropped, not trusted for `manage.busy_cache_seconds`."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from connectors.memory import MemoryConnector
from syncd.config.reconcile import ReconcileSettings
from syncd.manage import service
from syncd.reconcile.passes import reconcile_pass
from syncd.reconcile.state import request_pass
from syncd.runtime import Runtime
from syncd.store.dbthread import DatabaseThreads
from syncd.store.models import CalendarBinding, Staff
from tests.manage import shop
from tests.manage.shop import NOW, SOON, at, book

# the watched window reaches the shop's days in 2030
WATCH_FAR = ReconcileSettings(horizon_days=3650)


def alice_binding(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        query = select(CalendarBinding.id).join(Staff).where(Staff.key == "alice")
        return int(session.scalars(query).one())


def offered(runtime: Runtime, token: str) -> set[datetime]:
    found = asyncio.run(service.slot_list(runtime, token, SOON.date(), None, NOW))
    assert not found.busy_unavailable
    return set(found.slots)


def watch(runtime: Runtime, calendars: MemoryConnector, binding_id: int) -> None:
    with runtime.sessions.begin() as session:
        request_pass(session, binding_id)

    async def one_pass() -> None:
        db = DatabaseThreads(runtime.sessions)
        try:
            await reconcile_pass(db, calendars.calendar("alice-work"), binding_id, WATCH_FAR)
        finally:
            db.close()

    asyncio.run(one_pass())


def test_an_event_removed_from_the_calendar_frees_its_time_after_the_next_pass(
    runtime: Runtime, calendars: MemoryConnector
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        _, token = book(session, "b1", start=at(-1))
    binding_id = alice_binding(runtime)
    lunch = calendars.calendar("alice-work")
    href = lunch.add_foreign_event("lunch", at(2), at(3), busy=True)
    watch(runtime, calendars, binding_id)
    assert at(2) not in offered(runtime, token)  # the listing stores the busy time it read
    lunch.remove_event(href)
    watch(runtime, calendars, binding_id)
    assert at(2) in offered(runtime, token), "the pass dropped the stored busy time it touched"


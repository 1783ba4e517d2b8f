"""A failed write is written again once its backoff ends, not after the rest of its claim.

One calendar writing one event at a time: the pass's first write claims the
rest, the first of those fails, and every later create holds until the store
has the failed event due again, so that the pass is still working through its
claim when the retry comes due.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from connectors.base import EventSpec, RemoteRef
from connectors.memory import MemoryCalendar, MemoryConnector
from syncd.errors import TransientError
from syncd.runtime import Runtime
from syncd.store.models import Booking, Mirror
from syncd.timeutil import as_utc, utcnow
from syncd.worker.due_again import DueAgain
from tests import factories as f
from tests.worker.test_worker_memory import nothing_pending, run_until

BOOKINGS = 8


@dataclass
class FailingOnceCalendar(MemoryCalendar):
    """Fails its second create; holds every later create of another event until the store
    has that one due again (and a little after: the worker reads its clock just after)."""

    runtime: Runtime | None = None
    failed: str | None = None
    due_again_at: datetime | None = None  # the failed event's, once its failure is recorded
    written: list[str] = field(default_factory=list)  # booking keys, in the order written

    async def create(self, event: EventSpec) -> RemoteRef:
        if self.failed is None and self.written:
            self.failed = event.booking_key
            raise TransientError("HTTP 503")
        if self.failed is not None and event.booking_key != self.failed:
            await self._until_failed_one_due()
        ref = await super().create(event)
        self.written.append(event.booking_key)
        return ref

    async def _until_failed_one_due(self) -> None:
        while self.due_again_at is None:
            self.due_again_at = await asyncio.to_thread(self._failed_one_due_at)
            await asyncio.sleep(0.01)
        await asyncio.sleep((self.due_again_at - utcnow()).total_seconds() + 0.01)

    def _failed_one_due_at(self) -> datetime | None:
        assert self.runtime is not None
        with self.runtime.sessions.begin() as session:
            query = (
                select(Mirror.next_attempt_at)
                .join(Booking, Booking.id == Mirror.booking_id)
                .where(Booking.uid == self.failed, Mirror.attempts == 1)
            )
            found = session.scalar(query)
        return None if found is None else as_utc(found)


class FailingOnceConnector(MemoryConnector):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(concurrency_per_calendar=1)
        self.runtime = runtime

    def calendar(self, calendar_id: str) -> FailingOnceCalendar:
        found = self.calendars.setdefault(
            calendar_id, FailingOnceCalendar(calendar_id, runtime=self.runtime)
        )
        assert isinstance(found, FailingOnceCalendar)
        return found


def test_a_failed_write_goes_again_when_due_ahead_of_the_rest_of_its_claim(
    memory_runtime: Runtime,
) -> None:
    with memory_runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "/alice/")
        for n in range(BOOKINGS):
            f.book(session, f"b{n}", "alice", f.slot(n))
    connector = FailingOnceConnector(memory_runtime)
    asyncio.run(run_until(memory_runtime, connector, nothing_pending(memory_runtime)))
    calendar = connector.calendar("/alice/")
    assert len(calendar.written) == BOOKINGS
    # After the one write under way when it came due (or the next, should the pass look
    # just before its clock reaches the store's); not last, after the whole claim.
    assert calendar.failed is not None
    assert calendar.written.index(calendar.failed) <= 3, calendar.written


def test_a_claim_forgets_only_the_retries_it_should_have_found() -> None:
    retries, now = DueAgain(), time.monotonic()
    for mirror_id in (1, 2, 3):
        retries.add(mirror_id, now - 2)
    retries.add(4, now + 60)
    # 1 claimed; 2 due when the claim looked but not found: gone from the store's queue;
    # 3 still being recorded; 4 not due yet
    retries.claimed({1}, busy={3}, looked_at=now - 1)
    assert retries.due()  # 3
    retries.claimed({3}, busy=set(), looked_at=now - 1)
    assert not retries.due()
    assert (retries.seconds_to_next() or 0) > 50  # 4
    retries.claimed(set(), busy=set(), looked_at=now + 61)
    assert retries.seconds_to_next() is None

"""The actions behind the manage pages, on SQLite and PostgreSQL: rules on every call, effects in
one transaction, busy time from the calendars."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import BusyInterval
from connectors.memory import MemoryConnector
from syncd.config import MailSettings
from syncd.domain.manage_rules import Action
from syncd.errors import InputError, TransientError
from syncd.manage import service
from syncd.manage.errors import ActionClosed, SlotTaken
from syncd.manage.views import SlotList, StaffOption
from syncd.notify.compose import Composer
from syncd.notify.models import OutboxMessage
from syncd.notify.queue import Letter
from syncd.runtime import Runtime
from syncd.store.catalog import get_merchant, upsert_service
from syncd.store.models import Booking, Presence
from syncd.store.prepared import Reader
from syncd.store.snapshots import PooledReads
from syncd.webhooks.models import WebhookDelivery
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from tests.manage import shop
from tests.manage.shop import CONTACT, NOW, SOON, at, book, mirrors_of

T = TypeVar("T")


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        upsert_subscription(session, get_merchant(session, shop.MERCHANT), "platform", WebhookIn(
            url="https://platform.example/hooks", events=["booking.rescheduled",
                                                           "booking.cancelled"]))
    return runtime


def booked(runtime: Runtime, key: str = "b1", **changes: Any) -> str:
    with runtime.sessions.begin() as session:
        _, token = book(session, key, **changes)
    return token


def slots(runtime: Runtime, token: str, day: date | None = None, staff: str | None = None,
          now: datetime = NOW, *, from_day: date | None = None) -> SlotList:
    return asyncio.run(service.slot_list(runtime, token, day, staff, now, from_day=from_day))


def reschedule(runtime: Runtime, token: str, start: datetime, staff: str | None = None,
               now: datetime = NOW) -> Booking:
    with runtime.sessions.begin() as session:
        return service.reschedule(session, token, start, staff, now)


def counts(session: Session) -> tuple[int, int]:
    mails = session.scalar(select(func.count()).select_from(OutboxMessage))
    hooks = session.scalar(select(func.count()).select_from(WebhookDelivery))
    return int(mails or 0), int(hooks or 0)


def test_the_page_shows_the_booking_in_the_customers_zone(seeded: Runtime) -> None:
    token = booked(seeded, paid=True)
    with seeded.sessions.begin() as session:
        page = service.booking_page(session, token, NOW)
    assert page.start_local.isoformat() == "2030-03-06T10:00:00+01:00"
    assert page.timezone == "Europe/Paris"
    assert "Europe/Paris" in page.zone_label
    assert (page.service_name, page.staff_name, page.location) == ("Haircut", "Alice",
                                                                  "Main Street 1")
    assert (page.duration_minutes, page.status, page.paid) == (30, "confirmed", True)
    assert all(state.allowed for state in page.actions.values())
    assert page.contact_text == CONTACT
    assert page.booking_page_url == "https://salon.example/book"


def test_slots_leave_out_other_bookings_and_calendar_busy_time(
    seeded: Runtime, calendars: MemoryConnector
) -> None:
    token = booked(seeded)
    booked(seeded, "other", start=at(2))  # 12:00-12:30 Berlin, 10 minutes' buffer after
    calendars.calendar("alice-work").add_foreign_event(
        "dentist", at(4), at(5), busy=True)  # 14:00-15:00 Berlin
    calendars.calendar("alice-work").add_foreign_event("free", at(5), at(6), busy=False)
    listing = slots(seeded, token, date(2030, 3, 6))
    berlin = [s.astimezone(shop.zone("Europe/Berlin")).strftime("%H:%M") for s in listing.slots]
    # 11:30 and 13:30 would run their buffer into the next appointment; 12:30 starts in one
    assert berlin == ["09:00", "09:30", "10:30", "11:00",
                      "13:00", "15:00", "15:30", "16:00", "16:30"]
    assert listing.current == SOON, "the booking's own time is its current one, not a move"
    assert listing.slots[0].utcoffset() == timedelta(hours=1)  # shown in the customer's zone
    assert date(2030, 3, 6) in listing.days
    assert date(2030, 3, 9) not in listing.days
    assert listing.staff == StaffOption("alice", "Alice")
    assert [o.key for o in listing.staff_options] == ["alice", "bob"]
    assert not listing.busy_unavailable


def test_a_listing_shows_the_days_of_one_fortnight(seeded: Runtime) -> None:
    token = booked(seeded)
    first = slots(seeded, token)
    assert (first.day, first.earlier, first.later) == (date(2030, 3, 4), None, date(2030, 3, 18))
    assert first.days[0] == date(2030, 3, 4)
    assert first.days[-1] == date(2030, 3, 15)  # the last weekday before the 18th
    following = slots(seeded, token, from_day=first.later)
    assert (following.day, following.earlier) == (date(2030, 3, 18), date(2030, 3, 4))
    assert following.days[0] == date(2030, 3, 18)
    assert all(date(2030, 3, 18) <= day < date(2030, 4, 1) for day in following.days)
    picked = slots(seeded, token, date(2030, 3, 20))
    assert picked.days == following.days
    assert picked.slots[0].date() == date(2030, 3, 20)


def test_a_fortnight_without_free_times_is_passed_over(
    seeded: Runtime, calendars: MemoryConnector
) -> None:
    token = booked(seeded)
    calendars.calendar("alice-work").add_foreign_event(
        "away", NOW, datetime(2030, 3, 25, tzinfo=UTC), busy=True)
    listing = slots(seeded, token)
    assert listing.day == date(2030, 3, 25)
    assert listing.days[0] == date(2030, 3, 25)
    assert listing.earlier == date(2030, 3, 4)
    assert slots(seeded, token, date(2030, 3, 5)).days == []  # asked for: shown as it is


def test_the_booking_does_not_block_itself(seeded: Runtime, calendars: MemoryConnector) -> None:
    token = booked(seeded)
    calendars.calendar("alice-work").add_foreign_event("its own event", SOON, at(0.5), busy=True)
    listing = slots(seeded, token, date(2030, 3, 6))
    assert listing.current == SOON
    assert at(0.5) in listing.slots
    assert reschedule(seeded, token, at(0.5)).start == at(0.5)


class Unreachable(MemoryConnector):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def calendar(self, calendar_id: str) -> Any:
        outer = self
        inner = super().calendar(calendar_id)

        class Failing(type(inner)):  # type: ignore[misc]
            async def busy_time(self, start: datetime, end: datetime) -> list[BusyInterval]:
                outer.reads += 1
                raise TransientError("503", retry_after=5)

        return Failing(calendar_id)


def test_unreadable_busy_time_offers_no_slots(seeded: Runtime) -> None:
    token = booked(seeded)
    seeded.connectors = {"local": Unreachable()}
    listing = slots(seeded, token)
    assert listing.busy_unavailable
    assert listing.slots == []
    assert listing.days == []
    with pytest.raises(SlotTaken):
        reschedule(seeded, token, at(1))


class Counting(MemoryConnector):
    """Counts busy-time reads; each takes `delay` seconds, as a remote calendar's does."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.reads, self.delay = 0, delay

    def calendar(self, calendar_id: str) -> Any:
        known = calendar_id in self.calendars
        calendar = super().calendar(calendar_id)
        if known:
            return calendar
        original = calendar.busy_time

        async def counted(start: datetime, end: datetime) -> list[BusyInterval]:
            self.reads += 1
            await asyncio.sleep(self.delay)
            return await original(start, end)

        calendar.busy_time = counted  # type: ignore[method-assign]
        return calendar


def test_busy_time_is_cached_briefly(seeded: Runtime) -> None:
    token = booked(seeded)
    counting = Counting()
    seeded.connectors = {"local": counting}
    slots(seeded, token)
    first = counting.reads
    assert first > 0
    slots(seeded, token, now=NOW + timedelta(seconds=59))
    assert counting.reads == first
    slots(seeded, token, now=NOW + timedelta(seconds=61))
    assert counting.reads == 2 * first


def test_listings_at_the_same_moment_share_one_read_of_the_calendar(seeded: Runtime) -> None:
    tokens = [booked(seeded, f"b{n}", start=at(n)) for n in range(3)]
    slow = Counting(delay=0.2)
    seeded.connectors = {"local": slow}
    alone = slots(seeded, tokens[0])
    reads_of_one_listing = slow.reads
    assert reads_of_one_listing > 0

    async def many_at_once() -> list[SlotList]:
        later = NOW + timedelta(seconds=61)  # the cache has gone stale for all of them
        return await asyncio.gather(*(service.slot_list(seeded, token, None, None, later)
                                      for token in tokens * 3))

    listings = asyncio.run(many_at_once())
    assert slow.reads == 2 * reads_of_one_listing
    assert all(not listing.busy_unavailable and listing.slots for listing in listings)
    assert alone.slots


class HeldBackReads:
    """Reads a plan at once but hands it over only once `release` is set: a listing whose
    snapshot predates what another listing stores meanwhile."""

    def __init__(self, runtime: Runtime, release: asyncio.Event) -> None:
        self.pooled, self.release = PooledReads(runtime.engine), release

    async def run(self, work: Callable[[Reader], T]) -> T:
        plan = await self.pooled.run(work)
        await self.release.wait()
        return plan


def test_a_listing_read_before_another_stored_the_busy_time_does_not_read_it_again(
    seeded: Runtime,
) -> None:
    token = booked(seeded)
    counting = Counting()
    seeded.connectors = {"local": counting}

    async def stale_and_fresh() -> tuple[SlotList, int, SlotList]:
        first_done = asyncio.Event()
        late = asyncio.create_task(service.slot_list(
            seeded, token, None, None, NOW, reads=HeldBackReads(seeded, first_done)))
        await asyncio.sleep(0.2)  # its plan is read: every stretch is missing
        first = await service.slot_list(seeded, token, None, None, NOW)
        reads_of_one_listing = counting.reads
        first_done.set()
        return first, reads_of_one_listing, await late

    first, reads_of_one_listing, late = asyncio.run(stale_and_fresh())
    assert reads_of_one_listing > 0
    assert counting.reads == reads_of_one_listing
    assert late.slots == first.slots


def test_a_busy_block_learnt_after_listing_is_respected_at_confirmation(
    seeded: Runtime, calendars: MemoryConnector
) -> None:
    token = booked(seeded)
    slots(seeded, token)
    calendars.calendar("alice-work").add_foreign_event("late", at(1), at(2), busy=True)
    later = NOW + timedelta(seconds=120)  # past the cache: a new listing reads it again
    assert at(1) not in slots(seeded, token, date(2030, 3, 6), now=later).slots
    with pytest.raises(SlotTaken):
        reschedule(seeded, token, at(1), now=later)


def test_reschedule_moves_tells_and_dirties_in_one_transaction(seeded: Runtime) -> None:
    token = booked(seeded)
    slots(seeded, token)
    with seeded.sessions.begin() as session:
        before = counts(session)
    booking = reschedule(seeded, token, at(1))
    with seeded.sessions.begin() as session:
        booking = session.get_one(Booking, booking.id)
        assert (booking.start, booking.end, booking.status) == (at(1), at(1.5), "confirmed")
        assert all(m.pending and m.desired_version == booking.version
                   for m in mirrors_of(session, booking.id))
        kinds = session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds[-3:] == ["rescheduled", "reschedule_notice", "reschedule_notice"]
        hooks = session.scalars(select(WebhookDelivery.event_type)).all()
        assert hooks == ["booking.rescheduled"]
        after = counts(session)
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)


def test_a_failed_transaction_leaves_no_trace(seeded: Runtime) -> None:
    token = booked(seeded)
    slots(seeded, token)
    with seeded.sessions.begin() as session:
        before = counts(session)

    def reschedule_then_fail() -> None:
        with seeded.sessions.begin() as session:
            service.reschedule(session, token, at(1), None, NOW)
            raise RuntimeError("the page failed after the reschedule")

    with pytest.raises(RuntimeError):
        reschedule_then_fail()
    with seeded.sessions.begin() as session:
        assert counts(session) == before
        assert service.booking_page(session, token, NOW).start_local == SOON


def test_changing_staff_moves_the_event_to_their_calendar(seeded: Runtime) -> None:
    token = booked(seeded)
    bob_start = datetime(2030, 3, 6, 15, 0, tzinfo=shop.UTC)  # 10:00 in New York
    listing = slots(seeded, token, date(2030, 3, 6), staff="bob")
    assert bob_start in listing.slots
    assert listing.staff.key == "bob"
    booking = reschedule(seeded, token, bob_start, "bob")
    assert booking.staff.key == "bob"
    with seeded.sessions.begin() as session:
        desired = [m.desired for m in mirrors_of(session, booking.id)]
        assert desired == [Presence.ABSENT, Presence.PRESENT]  # alice's, then bob's calendar
        kinds = session.scalars(select(OutboxMessage.to_address).where(
            OutboxMessage.kind == "reschedule_notice")).all()
        assert {"alice@salon.example", "bob@salon.example"} <= set(kinds)


def test_only_staff_who_deliver_the_service_may_be_chosen(seeded: Runtime) -> None:
    token = booked(seeded)
    with pytest.raises(InputError):
        slots(seeded, token, staff="carol")
    with pytest.raises(InputError):
        reschedule(seeded, token, SOON, "carol")


def test_without_listed_staff_only_the_current_one_is_offered(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        upsert_service(session, get_merchant(session, shop.MERCHANT), "cut",
                       shop.service_in(staff=[]))
    token = booked(seeded)
    assert slots(seeded, token).staff_options == []
    with pytest.raises(InputError):
        slots(seeded, token, staff="bob")


def test_a_rescheduled_booking_of_an_approved_service_is_pending_again(seeded: Runtime) -> None:
    token = booked(seeded, service="color", status="confirmed")
    slots(seeded, token)
    assert reschedule(seeded, token, at(1)).status == "pending"


def test_the_cutoff_is_checked_when_the_action_is_taken(seeded: Runtime) -> None:
    token = booked(seeded)
    looked = SOON - timedelta(hours=24, minutes=5)  # the page was opened just before the cutoff
    with seeded.sessions.begin() as session:
        assert service.booking_page(session, token, looked).actions[Action.CANCEL].allowed
    listing = slots(seeded, token, now=looked)
    posted = SOON - timedelta(hours=24)  # and the form sent just after it
    with pytest.raises(ActionClosed) as closed:
        reschedule(seeded, token, listing.slots[-1], now=posted)
    assert closed.value.reason.startswith("Changes are possible until 24 hours before the start.")
    assert CONTACT in closed.value.reason
    with pytest.raises(ActionClosed), seeded.sessions.begin() as session:
        service.cancel(session, token, posted)
    with pytest.raises(ActionClosed):
        slots(seeded, token, now=posted)


def test_the_rules_of_booking_time_hold_after_the_service_changes(seeded: Runtime) -> None:
    token = booked(seeded)
    with seeded.sessions.begin() as session:
        upsert_service(session, get_merchant(session, shop.MERCHANT), "cut",
                       shop.service_in(allow_cancel=False, allow_change_staff=False))
    later = booked(seeded, "b2", start=at(3))
    with seeded.sessions.begin() as session:
        assert not service.booking_page(session, later, NOW).actions[Action.CANCEL].allowed
        assert service.booking_page(session, token, NOW).actions[Action.CANCEL].allowed
    with pytest.raises(ActionClosed), seeded.sessions.begin() as session:
        service.cancel(session, later, NOW)
    with pytest.raises(ActionClosed):
        reschedule(seeded, later, at(3), "bob")
    with seeded.sessions.begin() as session:
        assert service.cancel(session, token, NOW).status == "cancelled"


def test_staff_made_bookings_follow_the_choice_made_then(seeded: Runtime) -> None:
    closed = booked(seeded, "b1", origin="staff")
    opened = booked(seeded, "b2", start=at(2), origin="staff", self_manage=True)
    with seeded.sessions.begin() as session:
        page = service.booking_page(session, closed, NOW)
        assert not any(s.allowed for s in page.actions.values())
        assert page.actions[Action.CANCEL].reason == (
            f"This booking cannot be changed online. {CONTACT}")
        assert service.booking_page(session, opened, NOW).actions[Action.CANCEL].allowed
    with pytest.raises(ActionClosed), seeded.sessions.begin() as session:
        service.cancel(session, closed, NOW)
    with pytest.raises(InputError), seeded.sessions.begin() as session:  # decided at creation
        shop.put_booking(session, get_merchant(session, shop.MERCHANT), "b1",
                         shop.booking_in(origin="staff", self_manage=True))


@pytest.mark.parametrize("start", [
    at(0.25),  # between two slots of the 30-minute grid
    at(8),  # 18:00 in Berlin: after working hours
    at(2),  # taken by another booking
    at(24 * 70),  # beyond the furthest advance
    NOW + timedelta(minutes=30),  # inside the lead time
])
def test_a_time_never_offered_is_refused(seeded: Runtime, start: datetime) -> None:
    token = booked(seeded)
    booked(seeded, "other", start=at(2))
    slots(seeded, token)
    with pytest.raises(SlotTaken):
        reschedule(seeded, token, start)


def _rendered(session: Session, kind: str, audience: str) -> Message:
    row = session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == kind, OutboxMessage.audience == audience)).one()
    letter = Letter(row.id, row.kind, row.audience, row.to_address, row.to_name, row.timezone,
                    row.payload, "<m@x>", 0, row.queued_at, row.manage_link)
    return email.message_from_bytes(Composer(MailSettings()).envelope(letter).data)


def _text(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_a_customers_cancel_tells_everyone_and_the_merchant_of_the_refund(
    seeded: Runtime,
) -> None:
    token = booked(seeded, paid=True)
    with seeded.sessions.begin() as session:
        booking = service.cancel(session, token, NOW)
        assert booking.status == "cancelled"
        assert all(m.desired == Presence.ABSENT for m in mirrors_of(session, booking.id))
    with seeded.sessions.begin() as session:
        notice = _text(_rendered(session, "cancel_notice", "merchant"))
        assert "cancelled by the customer" in notice
        assert "any refund is to be handled by hand" in notice
        assert "handles any refund" in _text(_rendered(session, "cancelled", "customer"))
        assert session.scalars(select(WebhookDelivery.event_type)).all() == ["booking.cancelled"]
        page = service.booking_page(session, token, NOW)
        assert page.status == "cancelled"
        assert page.actions[Action.RESCHEDULE].reason == "This booking has been cancelled."

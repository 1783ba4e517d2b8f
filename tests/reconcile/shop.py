"""A salon whose staff member's calendar is watched: seeding, the worker, and what to look at."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from syncd.config import Settings
from syncd.notify.models import OutboxMessage
from syncd.notify.preferences import put_merchant_settings
from syncd.notify.schemas import MerchantNotificationsIn
from syncd.reconcile.models import CalendarConflict, ReconcileState
from syncd.reconcile.state import pass_due, request_pass
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import (
    get_merchant,
    upsert_binding,
    upsert_merchant,
    upsert_service,
    upsert_staff,
)
from syncd.store.models import Booking, CalendarBinding, Mirror
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.timeutil import utcnow
from syncd.webhooks.models import WebhookDelivery
from syncd.webhooks.outbox import EventType
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests.reconcile.hands import Hands

OWNER = "owner@salon.example"
HOUR = timedelta(hours=1)
# a booking two days ahead, well inside the watched window
START = (utcnow() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def settings_for(database_url: str, hands: Hands, **reconcile: Any) -> Settings:
    return Settings.model_validate({
        "database": {"url": database_url},
        "worker": {
            "sweep_interval_seconds": 0.5, "max_attempts": 4, "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5, "shutdown_timeout_seconds": 2,
        },
        "reconcile": {"interval_seconds": 3600} | reconcile,
        "connectors": {"cal": hands.settings()},
    })


def migrated(settings: Settings) -> Runtime:
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


@dataclass
class Shop:
    """The salon: merchant `salon`, service `cut` (an hour), staff `alice` with calendar `work`."""

    runtime: Runtime
    hands: Hands
    calendar_id: str

    def seed(self, rule: str = "booking_wins", service_rule: str | None = None) -> None:
        with self.runtime.sessions.begin() as session:
            salon, _ = upsert_merchant(session, "salon", MerchantIn(
                name="Salon", timezone="Europe/Berlin", reconcile_rule=rule))
            upsert_service(session, salon, "cut", ServiceIn(
                name="Haircut", duration_minutes=60, reconcile_rule=service_rule))
            alice, _ = upsert_staff(session, salon, "alice", StaffIn(
                name="Alice", email="alice@salon.example", timezone="Europe/Berlin"))
            binding = BindingIn(connector="cal", calendar_id=self.calendar_id)
            upsert_binding(session, alice, "work", binding, {"cal"})
            put_merchant_settings(session, salon, MerchantNotificationsIn(addresses=[OWNER]))
            hooks = WebhookIn.model_validate(
                {"url": "https://platform.example/hooks", "events": list(EventType)})
            upsert_subscription(session, salon, "platform", hooks)

    def set_rule(self, rule: str) -> None:
        with self.runtime.sessions.begin() as session:
            get_merchant(session, "salon").reconcile_rule = rule

    def book(self, key: str, start: datetime = START, **changes: Any) -> Booking:
        body = {
            "service": "cut", "staff": "alice", "start": start.isoformat(),
            "customer": {"name": "Jane", "email": "jane@example.com", "timezone": "Europe/Paris"},
        } | changes
        with self.runtime.sessions.begin() as session:
            booking, _ = put_booking(session, get_merchant(session, "salon"), key,
                                     BookingIn.model_validate(body))
            return booking

    # -- the worker --------------------------------------------------------

    async def settle(self, timeout: float = 30) -> None:
        """Run the worker until nothing is pending and no pass is due."""
        await self.run_until(self._quiet, timeout)

    async def run_until(self, done: Callable[[], bool], timeout: float = 30) -> None:
        """Run the worker until `done()` holds."""
        worker, stop = Worker(self.runtime, {"cal": self.hands.connector}), asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await task

    def _quiet(self) -> bool:
        with self.runtime.sessions.begin() as session:
            due = session.scalar(select(func.count()).select_from(CalendarBinding)
                                 .where(pass_due(utcnow())))
            return count_pending(session) == 0 and not due

    async def watch_again(self) -> None:
        """Ask for a pass now (as a change notification would), and let the worker make it."""
        self.request_pass()
        await self.settle()

    def request_pass(self) -> None:
        with self.runtime.sessions.begin() as session:
            request_pass(session, self.binding_id())

    # -- what there is to see ------------------------------------------------

    def binding_id(self) -> int:
        with self.runtime.sessions.begin() as session:
            return session.scalars(select(CalendarBinding.id)).one()

    def booking(self, key: str) -> Booking:
        with self.runtime.sessions.begin() as session:
            booking = session.scalars(select(Booking).where(Booking.key == key)).one()
            session.expunge(booking)
            return booking

    def href(self, key: str) -> str:
        with self.runtime.sessions.begin() as session:
            mirror = session.scalars(
                select(Mirror).join(Booking).where(Booking.key == key)).one()
            assert mirror.remote_id is not None
            return mirror.remote_id

    async def event_times(self, key: str) -> tuple[datetime, datetime] | None:
        return (await self.hands.events(self.calendar_id)).get(self.booking(key).uid)

    def conflicts(self) -> list[CalendarConflict]:
        with self.runtime.sessions.begin() as session:
            found = list(session.scalars(select(CalendarConflict).order_by(CalendarConflict.id)))
            session.expunge_all()
            return found

    def open_conflicts(self) -> list[CalendarConflict]:
        return [c for c in self.conflicts() if c.status == "open"]

    def messages(self) -> list[tuple[str, str]]:
        """(kind, audience) of every queued message."""
        with self.runtime.sessions.begin() as session:
            rows = session.execute(select(OutboxMessage.kind, OutboxMessage.audience)
                                   .order_by(OutboxMessage.id))
            return [(kind, audience) for kind, audience in rows]

    def webhook_types(self) -> list[str]:
        with self.runtime.sessions.begin() as session:
            return list(session.scalars(select(WebhookDelivery.event_type)
                                        .order_by(WebhookDelivery.id)))

    def state(self) -> ReconcileState:
        with self.runtime.sessions.begin() as session:
            state = session.get_one(ReconcileState, self.binding_id())
            session.expunge(state)
            return state

    def set_cursor(self, cursor: str | None) -> None:
        with self.runtime.sessions.begin() as session:
            session.get_one(ReconcileState, self.binding_id()).cursor = cursor

    def date_back_listing(self, by: timedelta) -> None:
        """As if the calendar's last complete listing (and pass) had been made `by` earlier."""
        with self.runtime.sessions.begin() as session:
            state = session.get_one(ReconcileState, self.binding_id())
            assert state.last_complete_at is not None
            assert state.last_pass_at is not None
            state.last_complete_at -= by
            state.last_pass_at -= by


def aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC)

"""What a booking's actions need from the store: its context, staff choices, what blocks a slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.errors import InputError
from syncd.manage.errors import ActionClosed
from syncd.manage.rules import (
    Action,
    ActionState,
    BookingFacts,
    ManageRules,
    action_states,
    contact_sentence,
)
from syncd.manage.slots import Interval, SlotShape
from syncd.manage.views import StaffOption
from syncd.store.models import Booking, BookingStatus, Merchant, Service, Staff

_BUFFER_REACH = timedelta(days=2)  # more than any two buffers together


@dataclass(frozen=True)
class BookingContext:
    """A booking with the rows and rules its actions are judged by, at one moment."""

    booking: Booking
    merchant: Merchant
    service: Service
    rules: ManageRules
    contact: str
    states: dict[Action, ActionState]

    def require(self, action: Action) -> None:
        state = self.states[action]
        if not state.allowed:
            raise ActionClosed(state.reason or "This is not possible online.")


def load_context(session: Session, booking: Booking, now: datetime) -> BookingContext:
    merchant = session.get_one(Merchant, booking.merchant_id)
    service = session.get_one(Service, booking.service_id)
    rules = ManageRules.from_json(booking.manage_rules)
    contact = contact_sentence(merchant.contact_text, merchant.name)
    facts = BookingFacts(booking.status, booking.start, booking.end)
    states = action_states(rules, facts, now, contact)
    return BookingContext(booking, merchant, service, rules, contact, states)


def staff_choices(session: Session, context: BookingContext) -> list[Staff]:
    """The booking's staff member first, then the others who deliver the service."""
    current = session.get_one(Staff, context.booking.staff_id)
    others = [s for s in context.service.delivered_by if s.id != current.id]
    return [current, *others]


def staff_options(context: BookingContext, choices: list[Staff]) -> list[StaffOption]:
    if not context.states[Action.CHANGE_STAFF].allowed or len(choices) < 2:
        return []
    return [StaffOption(staff.key, staff.name) for staff in choices]


def pick_staff(context: BookingContext, choices: list[Staff], staff_key: str | None) -> Staff:
    """The staff member asked for: the current one unless another is allowed and chosen."""
    current = choices[0]
    if staff_key is None or staff_key == current.key:
        return current
    chosen = next((staff for staff in choices if staff.key == staff_key), None)
    if chosen is None:
        raise InputError({"staff": "not a staff member who delivers this service"})
    context.require(Action.CHANGE_STAFF)
    return chosen


def slot_shape(service: Service, booking: Booking) -> SlotShape:
    """The booking keeps its own length (an admin may have made it longer than usual)."""
    return SlotShape(
        duration=booking.end - booking.start,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        interval=timedelta(minutes=service.slot_interval_minutes),
    )


def bookable_window(service: Service, now: datetime) -> Interval:
    """Where new starts may lie: after the lead time, before the furthest advance."""
    return Interval(
        now + timedelta(minutes=service.min_lead_minutes),
        now + timedelta(days=service.max_advance_days),
    )


def slot_window(context: BookingContext, now: datetime) -> Interval:
    """The bookable window; only the current time when the time itself may not change."""
    window = bookable_window(context.service, now)
    if context.states[Action.RESCHEDULE].allowed:
        return window
    start = context.booking.start
    if not window.start <= start < window.end:
        return Interval(start, start)
    return Interval(start, start + timedelta(microseconds=1))


def reach(shape: SlotShape, window: Interval) -> Interval:
    """Everything a slot starting in `window` could touch, buffers included."""
    return Interval(
        window.start - shape.buffer_before, window.end + shape.duration + shape.buffer_after
    )


def booking_blocks(
    session: Session, staff_id: int, needed: Interval, except_id: int
) -> list[Interval]:
    """The staff member's other live bookings, each widened by its own service's buffers."""
    rows = session.execute(
        select(Booking.start, Booking.end,
               Service.buffer_before_minutes, Service.buffer_after_minutes)
        .join(Service, Service.id == Booking.service_id)
        .where(
            Booking.staff_id == staff_id,
            Booking.status != BookingStatus.CANCELLED,
            Booking.id != except_id,
            Booking.start < needed.end + _BUFFER_REACH,
            Booking.end > needed.start - _BUFFER_REACH,
        )
    )
    return [
        Interval(start - timedelta(minutes=before), end + timedelta(minutes=after))
        for start, end, before, after in rows
    ]


def without_own_event(busy: list[Interval], own: Interval | None) -> list[Interval]:
    """Busy time less the booking's own event: a booking being moved does not block itself.

    Calendar busy time does not say whose event a block is; the block that is
    exactly the booking's current time on its own staff member's calendar is
    taken to be its mirrored event.
    """
    return [interval for interval in busy if interval != own]


def own_event(booking: Booking, staff_id: int) -> Interval | None:
    return Interval(booking.start, booking.end) if booking.staff_id == staff_id else None

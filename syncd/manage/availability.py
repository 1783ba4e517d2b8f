"""What a booking's actions need from the store: its context, staff choices, what blocks a slot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus
from syncd.domain.manage_rules import (
    Action,
    ActionState,
    BookingFacts,
    ManageRules,
    action_states,
    contact_sentence,
)
from syncd.errors import InputError
from syncd.manage.errors import ActionClosed
from syncd.manage.slots import Interval, SlotShape
from syncd.manage.views import StaffOption
from syncd.store.models import Booking, Merchant, Service, Staff, service_staff

_BUFFER_REACH = timedelta(days=2)  # more than any two buffers together
_MINUTE = timedelta(minutes=1)


class BookingTimes(Protocol):
    """The parts of a booking its slots are worked out from (a Booking row has them)."""

    @property
    def staff_id(self) -> int: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


class ServiceTimes(Protocol):
    """The parts of a service its slots are worked out from (a Service row has them)."""

    @property
    def buffer_before_minutes(self) -> int: ...
    @property
    def buffer_after_minutes(self) -> int: ...
    @property
    def slot_interval_minutes(self) -> int: ...
    @property
    def min_lead_minutes(self) -> int: ...
    @property
    def max_advance_days(self) -> int: ...


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
        require(self.states, action)


def require(states: Mapping[Action, ActionState], action: Action) -> None:
    """ActionClosed, with the reason the customer is shown, unless `action` is allowed."""
    state = states[action]
    if not state.allowed:
        raise ActionClosed(state.reason or "This is not possible online.")


def context_of(booking: Booking, now: datetime) -> BookingContext:
    """The booking as its actions are judged at `now` (merchant and service loaded with it)."""
    merchant, service = booking.merchant, booking.service
    rules = ManageRules.from_json(booking.manage_rules)
    contact = contact_sentence(merchant.contact_text, merchant.name)
    facts = BookingFacts(booking.status, booking.start, booking.end)
    states = action_states(rules, facts, now, contact)
    return BookingContext(booking, merchant, service, rules, contact, states)


def require_listing(states: Mapping[Action, ActionState]) -> None:
    """ActionClosed unless the customer may move the booking or change its staff member."""
    if not states[Action.CHANGE_STAFF].allowed:
        require(states, Action.RESCHEDULE)
    elif not states[Action.RESCHEDULE].allowed:
        require(states, Action.CHANGE_STAFF)


@dataclass(frozen=True)
class StaffChoice:
    id: int
    key: str
    name: str


# Built once: building a statement costs more than running it.
DELIVERERS = (
    select(Staff.id, Staff.key, Staff.name)
    .join(service_staff, service_staff.c.staff_id == Staff.id)
    .where(service_staff.c.service_id == bindparam("service_id"))
    .order_by(Staff.key)
)


def staff_choices(
    session: Session, context: BookingContext, staff_key: str | None
) -> list[StaffChoice]:
    """The booking's staff member first, then the others who deliver the service."""
    current = context.booking.staff
    choices = [StaffChoice(current.id, current.key, current.name)]
    if others_matter(context.states, current.key, staff_key):
        rows = session.execute(DELIVERERS, {"service_id": context.service.id})
        choices += others(rows, current.id)
    return choices


def others_matter(
    states: Mapping[Action, ActionState], current_key: str, staff_key: str | None
) -> bool:
    """Whether the others who deliver the service are looked up: only where they matter,
    when the customer may change staff, or names someone else (to be told whether that
    one could be chosen)."""
    return states[Action.CHANGE_STAFF].allowed or staff_key not in (None, current_key)


def others(deliverers: Iterable[Sequence[Any]], current_id: int) -> list[StaffChoice]:
    """The DELIVERERS rows but the current staff member, as choices."""
    return [StaffChoice(id_, key, name) for id_, key, name in deliverers if id_ != current_id]


def staff_options(context: BookingContext, choices: list[StaffChoice]) -> list[StaffOption]:
    return options_of(context.states, choices)


def options_of(
    states: Mapping[Action, ActionState], choices: list[StaffChoice]
) -> list[StaffOption]:
    if not states[Action.CHANGE_STAFF].allowed or len(choices) < 2:
        return []
    return [StaffOption(choice.key, choice.name) for choice in choices]


def pick_staff(
    session: Session, context: BookingContext, choices: list[StaffChoice], staff_key: str | None
) -> Staff:
    """The staff member asked for: the current one unless another is allowed and chosen."""
    chosen = choose_staff(context.states, choices, staff_key)
    if chosen.id == context.booking.staff_id:
        return context.booking.staff
    return session.get_one(Staff, chosen.id)


def choose_staff(
    states: Mapping[Action, ActionState], choices: list[StaffChoice], staff_key: str | None
) -> StaffChoice:
    """The choice asked for: the current one (first) unless another is allowed and chosen."""
    if staff_key is None or staff_key == choices[0].key:
        return choices[0]
    chosen = next((choice for choice in choices if choice.key == staff_key), None)
    if chosen is None:
        raise InputError({"staff": "not a staff member who delivers this service"})
    require(states, Action.CHANGE_STAFF)
    return chosen


def slot_shape(service: ServiceTimes, booking: BookingTimes) -> SlotShape:
    """The booking keeps its own length (an admin may have made it longer than usual)."""
    return SlotShape(
        duration=booking.end - booking.start,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        interval=timedelta(minutes=service.slot_interval_minutes),
    )


def bookable_window(service: ServiceTimes, now: datetime) -> Interval:
    """Where new starts may lie: after the lead time, before the furthest advance."""
    return Interval(
        now + timedelta(minutes=service.min_lead_minutes),
        now + timedelta(days=service.max_advance_days),
    )


def slot_window(context: BookingContext, now: datetime) -> Interval:
    """The bookable window; only the current time when the time itself may not change."""
    return window_of(context.service, context.booking.start, context.states, now)


def window_of(
    service: ServiceTimes, start: datetime, states: Mapping[Action, ActionState], now: datetime
) -> Interval:
    """slot_window of a booking starting at `start` whose actions are in `states`."""
    window = bookable_window(service, now)
    if states[Action.RESCHEDULE].allowed:
        return window
    if not window.start <= start < window.end:
        return Interval(start, start)
    return Interval(start, start + timedelta(microseconds=1))


def reach(shape: SlotShape, window: Interval) -> Interval:
    """Everything a slot starting in `window` could touch, buffers included."""
    return Interval(
        window.start - shape.buffer_before, window.end + shape.duration + shape.buffer_after
    )


# Built once: building a statement costs more than running it.
BLOCKING = (
    select(Booking.start, Booking.end,
           Service.buffer_before_minutes, Service.buffer_after_minutes)
    .join(Service, Service.id == Booking.service_id)
    .where(
        Booking.staff_id == bindparam("staff_id"),
        Booking.status != BookingStatus.CANCELLED,
        Booking.id != bindparam("except_id"),
        Booking.start < bindparam("until"),
        Booking.end > bindparam("since"),
    )
)


def booking_blocks(
    session: Session, staff_id: int, needed: Interval, except_id: int
) -> list[Interval]:
    """The staff member's other live bookings, each widened by its own service's buffers."""
    return widened(session.execute(BLOCKING, blocking_parameters(staff_id, needed, except_id)))


def blocking_parameters(staff_id: int, needed: Interval, except_id: int) -> dict[str, object]:
    """BLOCKING's parameters: what could block slots touching `needed`."""
    return {
        "staff_id": staff_id, "except_id": except_id,
        "until": needed.end + _BUFFER_REACH, "since": needed.start - _BUFFER_REACH,
    }


def widened(rows: Iterable[Sequence[Any]]) -> list[Interval]:
    """BLOCKING's rows, each booking widened by its own service's buffers."""
    return [
        Interval(start - _MINUTE * before, end + _MINUTE * after)
        for start, end, before, after in rows
    ]


def without_own_event(busy: list[Interval], own: Interval | None) -> list[Interval]:
    """Busy time less the booking's own event: a booking being moved does not block itself.

    Calendar busy time does not say whose event a block is; the block that is
    exactly the booking's current time on its own staff member's calendar is
    taken to be its mirrored event.
    """
    return [interval for interval in busy if interval != own]


def own_event(booking: BookingTimes, staff_id: int) -> Interval | None:
    return Interval(booking.start, booking.end) if booking.staff_id == staff_id else None

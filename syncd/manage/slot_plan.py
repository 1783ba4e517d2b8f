"""What a slot listing needs from the store, read with a few statements built once.

The reschedule page lists free times on every visit, so its read skips the
ORM: the booking, its rules' inputs, its service's terms and its staff member
come in one row by the link's token (as the details page's do, see
syncd.manage.details), then the other bookings and the stored busy time of the
staff member listed. The rules are judged by the same pure functions every
action uses; the errors are those of the actions (NotFound, ActionClosed,
InputError). All of it runs as one read snapshot (syncd.store.snapshots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from syncd.config.manage import ManageSettings
from syncd.domain.manage_rules import (
    Action,
    ActionState,
    BookingFacts,
    ManageRules,
    action_states,
    contact_sentence,
)
from syncd.errors import InputError, NotFound
from syncd.manage import availability as av
from syncd.manage.busy import BusyKnowledge, staff_busy
from syncd.manage.day_pages import DayPage, day_page
from syncd.manage.slots import Interval, SlotShape, StaffTime
from syncd.manage.tokens import link_works, row_for_digest, token_digest
from syncd.manage.views import StaffOption
from syncd.store.models import Booking, ManageToken, Merchant, Service, Staff
from syncd.store.prepared import Reader, Row

UNKNOWN_LINK = "manage link"  # the same for every reason a link opens nothing

# Built once: building a statement costs more than running it.
PLAN_ROW = (
    select(
        ManageToken.token_hash, ManageToken.revoked_at,
        Booking.id, Booking.status, Booking.start, Booking.end, Booking.customer_timezone,
        Booking.manage_rules, Booking.service_id,
        Merchant.name, Merchant.contact_text,
        Service.buffer_before_minutes, Service.buffer_after_minutes,
        Service.slot_interval_minutes, Service.min_lead_minutes, Service.max_advance_days,
        Staff.id, Staff.key, Staff.name, Staff.timezone, Staff.working_hours,
    )
    .join(Booking, Booking.id == ManageToken.booking_id)
    .join(Staff, Staff.id == Booking.staff_id)
    .join(Service, Service.id == Booking.service_id)
    .join(Merchant, Merchant.id == Booking.merchant_id)
    .where(ManageToken.token_hash == bindparam("digest"))
)
STAFF_HOURS = select(Staff.timezone, Staff.working_hours).where(Staff.id == bindparam("id"))


@dataclass(frozen=True)
class SlotPlan:
    """Everything a slot listing needs, read in one snapshot and detached from it."""

    customer_zone: str
    booking_day: date
    shape: SlotShape
    page: DayPage
    staff: StaffOption
    staff_options: list[StaffOption]
    timezone: str
    working_hours: dict[str, list[list[str]]]
    blocked: list[Interval]
    own: Interval | None
    busy: BusyKnowledge

    @property
    def window(self) -> Interval:
        return self.page.span

    def staff_time(self, busy: list[Interval]) -> StaffTime:
        blocked = self.blocked + av.without_own_event(busy, self.own)
        return StaffTime(self.timezone, self.working_hours, blocked)


@dataclass(frozen=True)
class ListedBooking:
    """The booking as a listing sees it (an av.BookingTimes)."""

    id: int
    status: str
    start: datetime
    end: datetime
    customer_timezone: str
    staff_id: int
    service_id: int


@dataclass(frozen=True)
class ServiceTerms:
    """The service's slot terms (an av.ServiceTimes)."""

    buffer_before_minutes: int
    buffer_after_minutes: int
    slot_interval_minutes: int
    min_lead_minutes: int
    max_advance_days: int


@dataclass(frozen=True)
class StaffHours:
    timezone: str
    working_hours: dict[str, list[list[str]]]


@dataclass(frozen=True)
class Opened:
    """What the link opens: the booking, its service, its staff member, its actions' states."""

    booking: ListedBooking
    service: ServiceTerms
    staff: av.StaffChoice
    hours: StaffHours
    states: dict[Action, ActionState]


def read_plan(
    reader: Reader, *, token: str, staff_key: str | None, page_day: date | None,
    now: datetime, settings: ManageSettings,
) -> SlotPlan:
    """The plan of the listing of `page_day`'s page with `staff_key` (None: the booking's own)."""
    opened = open_link(reader, token, now)
    booking, states = opened.booking, opened.states
    av.require_listing(states)
    choices = _staff_choices(reader, opened, staff_key)
    staff = av.choose_staff(states, choices, staff_key)
    hours = opened.hours if staff.id == booking.staff_id else _hours(reader, staff.id)
    shape = av.slot_shape(opened.service, booking)
    window = av.window_of(opened.service, booking.start, states, now)
    page = day_page(window, booking.customer_timezone, page_day)
    needed = av.reach(shape, page.span)
    blocking = av.blocking_parameters(staff.id, needed, booking.id)
    return SlotPlan(
        customer_zone=booking.customer_timezone,
        booking_day=booking.start.astimezone(ZoneInfo(booking.customer_timezone)).date(),
        shape=shape,
        page=page,
        staff=StaffOption(staff.key, staff.name),
        staff_options=av.options_of(states, choices),
        timezone=hours.timezone,
        working_hours=hours.working_hours,
        blocked=av.widened(reader.all(av.BLOCKING, blocking)),
        own=av.own_event(booking, staff.id),
        busy=staff_busy(reader, staff.id, needed,
                        now - timedelta(seconds=settings.busy_cache_seconds)),
    )


def open_link(reader: Reader, token: str, now: datetime) -> Opened:
    """The booking the token opens with its actions judged at `now`; NotFound as
    syncd.manage.tokens.find_booking finds none (wrong, revoked, or the booking over)."""
    digest = token_digest(token)
    row = None if digest is None else reader.one(PLAN_ROW, {"digest": digest})
    found = row_for_digest(digest, row)
    if found is None:
        raise NotFound(UNKNOWN_LINK)
    opened = _opened(found, now)
    if not link_works(found[1], opened.booking.end, now):
        raise NotFound(UNKNOWN_LINK)
    return opened


def _opened(row: Row, now: datetime) -> Opened:
    (_, _, booking_id, status, start, end, customer_timezone, rules_json, service_id,
     merchant_name, contact_text, buffer_before, buffer_after, slot_interval, min_lead,
     max_advance, staff_id, staff_key, staff_name, staff_timezone, working_hours) = row
    contact = contact_sentence(contact_text, merchant_name)
    facts = BookingFacts(status, start, end)
    return Opened(
        booking=ListedBooking(booking_id, status, start, end, customer_timezone, staff_id,
                              service_id),
        service=ServiceTerms(buffer_before, buffer_after, slot_interval, min_lead, max_advance),
        staff=av.StaffChoice(staff_id, staff_key, staff_name),
        hours=StaffHours(staff_timezone, working_hours),
        states=action_states(ManageRules.from_json(rules_json), facts, now, contact),
    )


def _staff_choices(reader: Reader, opened: Opened, staff_key: str | None) -> list[av.StaffChoice]:
    """av.staff_choices, read through `reader`."""
    current = opened.staff
    choices = [current]
    if av.others_matter(opened.states, current.key, staff_key):
        rows = reader.all(av.DELIVERERS, {"service_id": opened.booking.service_id})
        choices += av.others(rows, current.id)
    return choices


def _hours(reader: Reader, staff_id: int) -> StaffHours:
    row: Any = reader.one(STAFF_HOURS, {"id": staff_id})
    if row is None:  # removed since it was chosen (PostgreSQL reads each statement afresh)
        raise InputError({"staff": "not a staff member who delivers this service"})
    return StaffHours(*row)

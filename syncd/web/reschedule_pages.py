"""Rescheduling: pick a day (and staff member), pick a time, review, confirm.

Every step is a GET with query parameters except the confirmation, a POST
that redirects to the done page. The server checks the rules and the slot
again on the POST, whatever the pages showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from syncd.domain.bookings import BookingStatus
from syncd.domain.manage_rules import Action
from syncd.errors import Conflict
from syncd.manage.errors import ActionClosed, NothingToChange, SlotTaken
from syncd.manage.fresh_busy import BusyUnreadable, read_fresh
from syncd.manage.service import forget_busy, reschedule, slot_check, slot_list
from syncd.manage.tokens import find_booking
from syncd.manage.views import BookingPage, SlotList, StaffOption
from syncd.timeutil import zone
from syncd.web.booking_pages import load_page
from syncd.web.context import Web, see_other, token_of
from syncd.web.csrf import FIELD
from syncd.web.errors import CsrfError
from syncd.web.forms import (
    optional_day,
    optional_staff,
    optional_start,
    read_form,
    required_start,
)

CLOSED_TITLE = "This booking cannot be rescheduled online"


def may_reschedule(page: BookingPage) -> bool:
    states = page.actions
    return any(states[a].allowed for a in (Action.RESCHEDULE, Action.CHANGE_STAFF) if a in states)


def closed_reason(page: BookingPage) -> str:
    state = page.actions.get(Action.RESCHEDULE)
    return (state.reason if state else None) or "Rescheduling online is not possible."


def render_closed(
    web: Web, request: Request, token: str, page: BookingPage, *, title: str, reason: str,
    status: int,
) -> Response:
    context = {"page": page, "merchant_name": page.merchant_name, "token": token,
               "title": title, "reason": reason}
    return web.pages.render(request, "closed.html", context, status=status)


async def load_slots(
    web: Web, token: str, day: date | None, staff_key: str | None, from_day: date | None = None
) -> SlotList:
    """The day's slots; InputError (a staff member who does not deliver it) becomes a 400."""
    return await slot_list(web.runtime, token, day, staff_key, web.clock(), from_day=from_day,
                           reads=web.reads)


def render_slots(
    web: Web, request: Request, token: str, page: BookingPage, slots: SlotList, *, taken: bool,
    unchecked: bool = False, current: bool = False,
) -> Response:
    """The day's free times; `taken`: a chosen time was refused (`unchecked`: because a
    calendar could not be read to check it); `current`: the booking's own time was chosen."""
    choices = _unique([slots.staff, *slots.staff_options])
    context = {"page": page, "merchant_name": page.merchant_name, "token": token,
               "slots": slots, "staff_choices": choices, "taken": taken and not unchecked,
               "unchecked": unchecked, "current_chosen": current}
    return web.pages.render(request, "reschedule.html", context, status=409 if taken else 200)


def _unique(options: list[StaffOption]) -> list[StaffOption]:
    seen: dict[str, StaffOption] = {}
    for option in options:
        seen.setdefault(option.key, option)
    return list(seen.values())


async def choose(web: Web, request: Request) -> Response:
    """GET /{token}/reschedule?date=&staff=&from=: the days, the staff members, the day's free
    times; `from` opens the fortnight that starts then, at its first day with free times."""
    token = token_of(request)
    day, staff_key = optional_day(request.query_params), optional_staff(request.query_params)
    from_day = optional_day(request.query_params, "from")
    page = await load_page(web, token)
    if not may_reschedule(page):
        return render_closed(web, request, token, page, title=CLOSED_TITLE,
                             reason=closed_reason(page), status=200)
    if day is None and from_day is None:
        day = local_day(page.start_local, page)  # open on the booking's own day
    slots = await load_slots(web, token, day, staff_key, from_day)
    return render_slots(web, request, token, page, slots, taken=False)


def local_day(moment: datetime, page: BookingPage) -> date:
    return moment.astimezone(zone(page.timezone)).date()


async def review(web: Web, request: Request) -> Response:
    """GET /{token}/reschedule/review?start=&staff=: old and new side by side, and Confirm."""
    token = token_of(request)
    start, staff_key = required_start(request.query_params), optional_staff(request.query_params)
    page = await load_page(web, token)
    if not may_reschedule(page):
        return render_closed(web, request, token, page, title=CLOSED_TITLE,
                             reason=closed_reason(page), status=200)
    slots = await load_slots(web, token, local_day(start, page), staff_key)
    if start == slots.current:
        return render_slots(web, request, token, page, slots, taken=False, current=True)
    if start not in slots.slots:
        return render_slots(web, request, token, page, slots, taken=True)
    new_start = start.astimezone(zone(page.timezone))
    context = {"page": page, "merchant_name": page.merchant_name, "token": token,
               "new_start": new_start, "new_staff": slots.staff,
               "new_end": new_start + timedelta(minutes=page.duration_minutes)}
    return web.pages.render(request, "review.html", context, form_for=token)


@dataclass(frozen=True)
class Move:
    """What a Confirm asks for."""

    token: str
    start: datetime
    staff_key: str | None


async def confirm(web: Web, request: Request) -> Response:
    """POST /{token}/reschedule: move the booking, then show the done page."""
    token = token_of(request)
    form = await read_form(request)
    if not web.csrf.verify(request, token, form.get(FIELD)):
        raise CsrfError
    move = Move(token, required_start(form), optional_staff(form))
    try:
        await _move(web, move)
    except NothingToChange:
        if move.start == optional_start(form, "was"):  # the time the review showed as "Now"
            return await _current_chosen(web, request, move)
        return see_other(request, token, "rescheduled")  # a repeated Confirm
    except Conflict as refused:  # SlotTaken, ActionClosed, or a race lost in the database
        return await _after_refusal(web, request, move, refused)
    return see_other(request, token, "rescheduled")


async def _move(web: Web, move: Move) -> None:
    """Read the slot on the staff calendars afresh, then move the booking in one transaction."""
    now = web.clock()
    check = await web.transact(
        lambda session: slot_check(session, move.token, move.start, move.staff_key, now))
    seconds = web.runtime.settings.manage.confirm_timeout_seconds
    fresh = await read_fresh(web.runtime.connectors, check, seconds)
    try:
        await web.transact(lambda session: reschedule(
            session, move.token, move.start, move.staff_key, now, fresh=fresh))
    except SlotTaken:
        if fresh.intervals:  # the calendars show what the stored busy time may not have
            await web.transact(lambda session: forget_busy(session, check))
        raise


async def _current_chosen(web: Web, request: Request, move: Move) -> Response:
    page = await load_page(web, move.token)
    slots = await load_slots(web, move.token, local_day(move.start, page), move.staff_key)
    return render_slots(web, request, move.token, page, slots, taken=False, current=True)


async def _after_refusal(web: Web, request: Request, move: Move, refused: Conflict) -> Response:
    if await _already_done(web, move):
        return see_other(request, move.token, "rescheduled")  # a repeated Confirm
    page = await load_page(web, move.token)
    if isinstance(refused, ActionClosed):
        return render_closed(web, request, move.token, page, title=CLOSED_TITLE,
                             reason=refused.reason, status=409)
    slots = await load_slots(web, move.token, local_day(move.start, page), move.staff_key)
    return render_slots(web, request, move.token, page, slots, taken=True,
                        unchecked=isinstance(refused, BusyUnreadable))


async def _already_done(web: Web, move: Move) -> bool:
    now = web.clock()

    def booked_there(session: Session) -> bool:
        booking = find_booking(session, move.token, now)
        return (
            booking is not None
            and booking.status != BookingStatus.CANCELLED
            and booking.start == move.start
            and (move.staff_key is None or booking.staff.key == move.staff_key)
        )

    return await web.transact(booked_there)

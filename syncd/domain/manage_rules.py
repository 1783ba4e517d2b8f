"""Who may do what with a booking through its manage link, and until when. Pure: no I/O.

The rules are decided when a booking is made, from its service's settings, its
origin and (for bookings staff made) the choice made then, and stored with the
booking as a `ManageRules` snapshot: changing a service later affects only
bookings made later. Every action checks the snapshot, the booking's status
and the cutoff again when it is carried out.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol


class Action(StrEnum):
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    CHANGE_STAFF = "change_staff"


class ServiceSettings(Protocol):
    """The parts of a service the rules are made from (a Service row has them)."""

    manage_web_bookings: bool
    manage_staff_bookings: bool
    allow_cancel: bool
    allow_reschedule: bool
    allow_change_staff: bool
    manage_cutoff_hours: int


@dataclass(frozen=True)
class BookingTerms:
    """A staff-made booking's own cutoff and actions ("cancel", "reschedule"), chosen when it
    was made; None: the service's."""

    cutoff_hours: int | None = None
    actions: tuple[str, ...] | None = None


SERVICE_TERMS = BookingTerms()


@dataclass(frozen=True)
class ManageRules:
    """The snapshot kept with each booking (as JSON in `bookings.manage_rules`)."""

    enabled: bool  # the customer may manage this booking at all
    cancel: bool
    reschedule: bool
    change_staff: bool
    cutoff_hours: int  # no changes later than this many hours before the start
    booking_choice: bool | None = None  # what staff chose for a booking they made
    # and with it (None: the service's): the booking's own cutoff and actions
    booking_cutoff_hours: int | None = None
    booking_actions: list[str] | None = None

    def terms(self) -> BookingTerms:
        """What staff chose for the booking, beyond whether it may be managed at all."""
        actions = None if self.booking_actions is None else tuple(self.booking_actions)
        return BookingTerms(self.booking_cutoff_hours, actions)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ManageRules:
        """The stored snapshot; a booking without one (or a damaged one) may not be managed."""
        if not isinstance(data, dict):
            return CLOSED
        try:
            return cls(**data)
        except TypeError:
            return CLOSED


CLOSED = ManageRules(enabled=False, cancel=False, reschedule=False, change_staff=False,
                     cutoff_hours=0)


# Bookings made under the same settings keep the same snapshot: a few distinct texts recur.
@functools.lru_cache(maxsize=256)
def rules_from_text(text: str | None) -> ManageRules:
    """`ManageRules.from_json` of the snapshot as stored (JSON text), each text decoded once;
    text that is not JSON is a damaged snapshot."""
    try:
        data = None if text is None else json.loads(text)
    except ValueError:
        return CLOSED
    return ManageRules.from_json(data)


def rules_at_booking(
    service: ServiceSettings, origin: str, choice: bool | None,
    terms: BookingTerms = SERVICE_TERMS,
) -> ManageRules:
    """The rules in force for a booking made now, by `origin` ("web" or "staff"); `terms`
    (staff-made bookings only) replace the service's cutoff and actions."""
    if origin == "staff":
        enabled = service.manage_staff_bookings if choice is None else choice
    else:
        enabled, terms = service.manage_web_bookings, SERVICE_TERMS
    actions = terms.actions
    return ManageRules(
        enabled=enabled,
        cancel=service.allow_cancel if actions is None else "cancel" in actions,
        reschedule=service.allow_reschedule if actions is None else "reschedule" in actions,
        change_staff=service.allow_change_staff and (actions is None or "reschedule" in actions),
        cutoff_hours=(service.manage_cutoff_hours if terms.cutoff_hours is None
                      else terms.cutoff_hours),
        booking_choice=choice,
        booking_cutoff_hours=terms.cutoff_hours,
        booking_actions=None if actions is None else sorted(actions),
    )


@dataclass(frozen=True)
class ActionState:
    allowed: bool
    reason: str | None  # shown to the customer when the action is closed


@dataclass(frozen=True)
class BookingFacts:
    """What the rules need to know about the booking as it is now."""

    status: str
    start: datetime
    end: datetime


OPEN = ActionState(True, None)
# iterating the Enum class runs a generator of its own on every call; every page asks
ALL_ACTIONS = tuple(Action)
_PERMITTED = {
    Action.CANCEL: lambda rules: rules.cancel,
    Action.RESCHEDULE: lambda rules: rules.reschedule,
    Action.CHANGE_STAFF: lambda rules: rules.change_staff,
}
_NOT_OFFERED = {
    Action.CANCEL: "Cancelling online is not offered for this booking.",
    Action.RESCHEDULE: "Rescheduling online is not offered for this booking.",
    Action.CHANGE_STAFF: "Choosing another staff member online is not offered for this booking.",
}


def contact_sentence(contact_text: str, merchant_name: str) -> str:
    """How to make changes by other means: the merchant's own words, else a plain request."""
    return contact_text.strip() or f"Please contact {merchant_name} to make changes."


def cutoff_reason(hours: int, contact: str) -> str:
    unit = "hour" if hours == 1 else "hours"
    return f"Changes are possible until {hours} {unit} before the start. {contact}"


def _whole_booking_state(rules: ManageRules, facts: BookingFacts, now: datetime,
                         contact: str) -> ActionState | None:
    """Why no action at all is possible, or None when that depends on the action."""
    if facts.status == "cancelled":
        return ActionState(False, "This booking has been cancelled.")
    if now >= facts.start:
        return ActionState(False, "This booking has already started.")
    if not rules.enabled:
        return ActionState(False, f"This booking cannot be changed online. {contact}")
    return None


def action_states(rules: ManageRules, facts: BookingFacts, now: datetime,
                  contact: str) -> dict[Action, ActionState]:
    """Each action's state for this booking at `now`; `contact` ends the reasons."""
    closed = _whole_booking_state(rules, facts, now, contact)
    if closed is not None:
        return dict.fromkeys(ALL_ACTIONS, closed)
    permitted = _permitted_state(rules, facts, now, contact)
    return {
        action: permitted if _PERMITTED[action](rules)
        else ActionState(False, f"{_NOT_OFFERED[action]} {contact}")
        for action in ALL_ACTIONS
    }


def _permitted_state(rules: ManageRules, facts: BookingFacts, now: datetime,
                     contact: str) -> ActionState:
    """The state of an action the rules permit: open until the cutoff, closed from then on."""
    if now >= facts.start - timedelta(hours=rules.cutoff_hours):
        return ActionState(False, cutoff_reason(rules.cutoff_hours, contact))
    return OPEN


def status_after_reschedule(status: str, requires_approval: bool) -> str:
    """A moved booking of a manually approved service waits for approval again."""
    return "pending" if requires_approval else status

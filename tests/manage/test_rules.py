"""Who may do what, and until when: the pure rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from syncd.domain.manage_rules import (
    CLOSED,
    Action,
    BookingFacts,
    ManageRules,
    action_states,
    contact_sentence,
    rules_at_booking,
    rules_from_text,
    status_after_reschedule,
)

START = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)
FACTS = BookingFacts("confirmed", START, START + timedelta(minutes=30))
CONTACT = "Call us on 030 123456."
OPEN_RULES = ManageRules(enabled=True, cancel=True, reschedule=True, change_staff=True,
                         cutoff_hours=24)


@dataclass
class ServiceRow:
    manage_web_bookings: bool = True
    manage_staff_bookings: bool = False
    allow_cancel: bool = True
    allow_reschedule: bool = True
    allow_change_staff: bool = False
    manage_cutoff_hours: int = 24


def allowed(rules: ManageRules, now: datetime, facts: BookingFacts = FACTS) -> dict[Action, bool]:
    return {a: s.allowed for a, s in action_states(rules, facts, now, CONTACT).items()}


def test_web_bookings_follow_the_services_web_setting() -> None:
    assert rules_at_booking(ServiceRow(), "web", None).enabled
    assert not rules_at_booking(ServiceRow(manage_web_bookings=False), "web", None).enabled


def test_staff_made_bookings_are_closed_by_default_and_the_choice_decides() -> None:
    assert not rules_at_booking(ServiceRow(), "staff", None).enabled
    assert rules_at_booking(ServiceRow(manage_staff_bookings=True), "staff", None).enabled
    assert rules_at_booking(ServiceRow(), "staff", True).enabled
    assert not rules_at_booking(ServiceRow(manage_staff_bookings=True), "staff", False).enabled
    assert rules_at_booking(ServiceRow(), "staff", True).booking_choice is True


def test_the_snapshot_copies_the_service_and_survives_json() -> None:
    service = ServiceRow(allow_cancel=False, allow_change_staff=True, manage_cutoff_hours=6)
    rules = rules_at_booking(service, "web", None)
    assert (rules.cancel, rules.reschedule, rules.change_staff, rules.cutoff_hours) == (
        False, True, True, 6)
    assert ManageRules.from_json(rules.to_json()) == rules
    service.allow_cancel, service.manage_cutoff_hours = True, 48  # a later change of the service
    assert ManageRules.from_json(rules.to_json()).cancel is False  # the booking keeps its rules


@pytest.mark.parametrize("stored", [None, "x", {"enabled": True}, {"bogus": 1}])
def test_a_missing_or_damaged_snapshot_closes_everything(stored: object) -> None:
    assert ManageRules.from_json(stored) == CLOSED
    assert not any(allowed(CLOSED, START - timedelta(days=10)).values())


def test_everything_open_well_before_the_cutoff() -> None:
    assert all(allowed(OPEN_RULES, START - timedelta(days=2)).values())


@pytest.mark.parametrize(("action", "field"), [
    (Action.CANCEL, "cancel"), (Action.RESCHEDULE, "reschedule"),
    (Action.CHANGE_STAFF, "change_staff"),
])
def test_each_permission_closes_only_its_own_action(action: Action, field: str) -> None:
    rules = replace(OPEN_RULES, **{field: False})
    states = action_states(rules, FACTS, START - timedelta(days=2), CONTACT)
    assert {a for a, s in states.items() if not s.allowed} == {action}
    assert states[action].reason is not None
    assert states[action].reason.endswith(CONTACT)


def test_the_cutoff_edges() -> None:
    boundary = START - timedelta(hours=24)
    assert all(allowed(OPEN_RULES, boundary - timedelta(seconds=1)).values())
    assert not any(allowed(OPEN_RULES, boundary).values())
    assert not any(allowed(OPEN_RULES, boundary + timedelta(seconds=1)).values())
    reason = action_states(OPEN_RULES, FACTS, boundary, CONTACT)[Action.CANCEL].reason
    assert reason == f"Changes are possible until 24 hours before the start. {CONTACT}"


def test_a_zero_cutoff_closes_at_the_start() -> None:
    rules = replace(OPEN_RULES, cutoff_hours=0)
    assert all(allowed(rules, START - timedelta(seconds=1)).values())
    assert not any(allowed(rules, START).values())


def test_disabled_managing_says_whom_to_contact() -> None:
    states = action_states(replace(OPEN_RULES, enabled=False), FACTS, START - timedelta(days=9),
                           CONTACT)
    assert {s.reason for s in states.values()} == {
        f"This booking cannot be changed online. {CONTACT}"}


def test_cancelled_and_started_bookings_allow_nothing() -> None:
    cancelled = replace(FACTS, status="cancelled")
    assert not any(allowed(OPEN_RULES, START - timedelta(days=9), cancelled).values())
    assert not any(allowed(replace(OPEN_RULES, cutoff_hours=0), START).values())


def test_contact_sentence_falls_back_to_the_merchants_name() -> None:
    assert contact_sentence("  ", "Salon One") == "Please contact Salon One to make changes."
    assert contact_sentence(CONTACT, "Salon One") == CONTACT


def test_a_rescheduled_booking_of_an_approved_service_is_pending_again() -> None:
    assert status_after_reschedule("confirmed", requires_approval=True) == "pending"
    assert status_after_reschedule("confirmed", requires_approval=False) == "confirmed"
    assert status_after_reschedule("pending", requires_approval=False) == "pending"


def test_stored_rules_text_reads_as_the_decoded_snapshot_does() -> None:
    text = json.dumps(replace(OPEN_RULES, booking_actions=["cancel"]).to_json())
    assert rules_from_text(text) == ManageRules.from_json(json.loads(text))
    assert rules_from_text(text) is rules_from_text(text)  # decoded once
    for damaged in (None, "null", "{not json", '{"enabled": true}', '["cancel"]'):
        assert rules_from_text(damaged) is CLOSED, damaged

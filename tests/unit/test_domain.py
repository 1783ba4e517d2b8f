from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import EventStatus
from syncd.domain.bookings import (
    BookingStatus,
    apply_changes,
    event_spec,
    event_uid,
    initial_status,
)
from syncd.store.changes import ChangeKind, Snapshot, kinds_between
from syncd.store.models import Booking, Service, Staff

START = datetime(2030, 1, 1, 9, tzinfo=UTC)


def booking() -> Booking:
    return Booking(
        key="b1", uid=event_uid("acme", "b1"), start=START, end=START + timedelta(hours=1),
        staff_id=1, status=BookingStatus.PENDING, version=1, sequence=0, notes="",
        customer_name="Ada", customer_email="ada@example.org", customer_phone=None,
        service=Service(name="Cut", location="Main St"), staff=Staff(timezone="Europe/Berlin"),
    )


def test_uid_is_stable_and_distinct_per_merchant_and_key() -> None:
    assert event_uid("acme", "b1") == event_uid("acme", "b1")
    assert event_uid("acme", "b1") != event_uid("acme", "b2")
    assert event_uid("acme", "b1") != event_uid("other", "b1")


def test_initial_status_follows_the_approval_rule() -> None:
    assert initial_status(requires_approval=True) == BookingStatus.PENDING
    assert initial_status(requires_approval=False) == BookingStatus.CONFIRMED


def test_no_change_bumps_nothing() -> None:
    b = booking()
    assert not apply_changes(b, {"start": START, "notes": ""}).any
    assert (b.version, b.sequence) == (1, 0)


def test_a_note_bumps_the_version_but_not_the_sequence() -> None:
    b = booking()
    apply_changes(b, {"notes": "bring photos"})
    assert (b.version, b.sequence) == (2, 0)


def test_a_move_bumps_version_and_sequence() -> None:
    b = booking()
    apply_changes(b, {"start": START + timedelta(hours=2), "end": START + timedelta(hours=3)})
    assert (b.version, b.sequence) == (2, 1)


def test_event_spec_carries_identity_time_and_status() -> None:
    spec = event_spec(booking())
    assert spec.booking_key == event_uid("acme", "b1")
    assert (spec.start, spec.end, spec.timezone) == (START, START + timedelta(hours=1),
                                                     "Europe/Berlin")
    assert spec.status == EventStatus.TENTATIVE
    assert "Booking reference: b1" in spec.description


def snapshot(**changes: object) -> Snapshot:
    base = {"start": START, "end": START + timedelta(hours=1), "staff_id": 1,
            "status": "confirmed", "sequence": 0}
    return Snapshot(**(base | changes))  # type: ignore[arg-type]


def test_change_kinds_name_what_changed() -> None:
    later = START + timedelta(days=1)
    assert kinds_between(snapshot(), snapshot(status="cancelled")) == [ChangeKind.CANCELLED]
    assert kinds_between(snapshot(), snapshot(start=later)) == [ChangeKind.RESCHEDULED]
    assert kinds_between(snapshot(), snapshot(staff_id=2)) == [ChangeKind.RESCHEDULED]
    assert kinds_between(snapshot(status="pending"), snapshot(start=later)) == [
        ChangeKind.RESCHEDULED, ChangeKind.STATUS_CHANGED]
    assert kinds_between(snapshot(), snapshot()) == [ChangeKind.DETAILS_CHANGED]

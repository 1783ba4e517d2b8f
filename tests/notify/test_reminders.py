"""Reminders and follow-ups: scheduled, moved, dropped, sent once, late only within grace."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from syncd.notify import reminders
from syncd.notify.models import Reminder, ReminderState
from syncd.notify.reminders import ReminderRules
from syncd.runtime import Runtime
from tests.notify import shop
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import (
    SenderThread,
    outbox_rows,
    reminder_rows,
    text_of,
    wait_until,
)

RULES = ReminderRules(grace=timedelta(minutes=30), follow_ups=True)
DAY, HOUR = 1440, 60


def promote(runtime: Runtime, now: datetime, rules: ReminderRules = RULES) -> int:
    with runtime.sessions.begin() as session:
        return reminders.promote_due(session, now, rules)


def states(runtime: Runtime) -> dict[tuple[str, int], str]:
    return {(r.kind, r.minutes): r.state for r in reminder_rows(runtime)}


def reminders_sent(runtime: Runtime) -> list[str]:
    return [row.kind for row in outbox_rows(runtime) if row.reminder_id is not None]


def test_reminders_are_scheduled_with_the_booking(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(DAY, HOUR), follow_up=120)
        shop.book(session, "b1")
    due = {(r.kind, r.minutes): (r.due_at, r.state) for r in reminder_rows(runtime)}
    assert due == {
        ("reminder", DAY): (shop.START - timedelta(days=1), ReminderState.SCHEDULED),
        ("reminder", HOUR): (shop.START - timedelta(hours=1), ReminderState.SCHEDULED),
        ("follow_up", 120): (shop.later(2.5), ReminderState.SCHEDULED),
    }


def test_a_due_reminder_is_queued_once_and_only_once(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(HOUR,))
        shop.book(session, "b1")
    now = shop.START - timedelta(minutes=50)
    assert promote(runtime, now) == 1
    assert promote(runtime, now) == 0
    assert promote(runtime, now + timedelta(minutes=5)) == 0
    assert reminders_sent(runtime) == ["reminder"]
    (reminder,) = reminder_rows(runtime)
    again = Reminder(booking_id=reminder.booking_id, kind="reminder", minutes=HOUR,
                     due_at=now, state=ReminderState.SCHEDULED)
    with runtime.sessions() as session:
        session.add(again)
        with pytest.raises(IntegrityError):
            session.commit()


def test_a_reminder_that_came_due_while_down_is_sent_only_within_the_grace_window(
    runtime: Runtime,
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(DAY, 3 * HOUR))
        shop.book(session, "b1")
    # back 20 minutes after the 3-hour reminder was due (grace: 30), 21 hours after the other
    assert promote(runtime, shop.START - timedelta(minutes=160)) == 1
    assert states(runtime) == {
        ("reminder", DAY): ReminderState.MISSED,
        ("reminder", 3 * HOUR): ReminderState.QUEUED,
    }


def test_no_reminder_after_the_start_even_within_grace(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(15,))
        shop.book(session, "b1")
    assert promote(runtime, shop.START + timedelta(minutes=5)) == 0
    assert states(runtime) == {("reminder", 15): ReminderState.MISSED}


def test_reschedule_moves_unsent_reminders_and_never_repeats_a_sent_one(
    runtime: Runtime,
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(DAY, HOUR))
        shop.book(session, "b1")
    assert promote(runtime, shop.START - timedelta(hours=23.75)) == 1  # the day-before one
    with runtime.sessions.begin() as session:
        shop.book(session, "b1", start=shop.later(48))
    due = {r.minutes: (r.due_at, r.state) for r in reminder_rows(runtime)}
    assert due[HOUR] == (shop.later(47), ReminderState.SCHEDULED)
    assert due[DAY][1] == ReminderState.QUEUED
    assert promote(runtime, shop.later(48) - timedelta(hours=23)) == 0
    assert promote(runtime, shop.later(47)) == 1
    assert reminders_sent(runtime) == ["reminder", "reminder"]


def test_cancel_drops_reminders_and_none_is_sent_for_a_cancelled_booking(
    runtime: Runtime,
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(DAY, HOUR), follow_up=60)
        shop.book(session, "b1")
    with runtime.sessions.begin() as session:
        shop.cancel(session, "b1")
    assert set(states(runtime).values()) == {ReminderState.DROPPED}
    assert promote(runtime, shop.START - timedelta(minutes=30)) == 0
    assert promote(runtime, shop.later(2)) == 0
    assert reminders_sent(runtime) == []


def test_follow_ups_go_out_only_when_enabled(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, follow_up=60)
        shop.book(session, "b1")
        shop.book(session, "b2", start=shop.later(2))
    off = ReminderRules(grace=timedelta(minutes=30), follow_ups=False)
    assert promote(runtime, shop.later(1.6), off) == 0
    assert promote(runtime, shop.later(3.6)) == 1
    assert sorted(r.state for r in reminder_rows(runtime)) == ["queued", "skipped"]


def test_a_booking_made_after_its_reminder_time_gets_no_late_reminder(
    runtime: Runtime,
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(HOUR,))
    soon = datetime.now().astimezone() + timedelta(minutes=20)
    with runtime.sessions.begin() as session:
        shop.book(session, "b1", start=soon)
    assert states(runtime) == {("reminder", HOUR): ReminderState.SKIPPED}


def test_the_sender_delivers_due_reminders(runtime: Runtime, sink: SmtpSink) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(HOUR,))
    # Due in 4 s: still ahead when the booking is made, even on a slow machine.
    soon = datetime.now().astimezone() + timedelta(minutes=60, seconds=4)
    with runtime.sessions.begin() as session:
        shop.book(session, "b1", start=soon)
    with SenderThread(runtime):
        sink.wait_for(3)
        assert len(sink.wait_for(4)) == 4
    reminder = [m for m in sink.messages() if m.message["Subject"].startswith("Reminder")]
    assert len(reminder) == 1
    assert "a reminder of your booking" in text_of(reminder[0].message)
    wait_until(lambda: states(runtime)[("reminder", HOUR)] == ReminderState.QUEUED)


def test_a_reminder_queued_but_not_yet_sent_is_withdrawn_by_a_cancel(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, reminders=(HOUR,))
        shop.book(session, "b1")
    assert promote(runtime, shop.START - timedelta(minutes=55)) == 1
    with runtime.sessions.begin() as session:
        shop.cancel(session, "b1")
    states_by_kind = {row.kind: row.state for row in outbox_rows(runtime)}
    assert states_by_kind["reminder"] == "withdrawn"
    assert states_by_kind["cancelled"] == "queued"

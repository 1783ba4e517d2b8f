"""One pass's writes, in one transaction: what the feed showed, recognised and settled.

Everything a pass decides is decided here, on rows read (and locked) in this
transaction, so a booking changed meanwhile through the API is seen as it is
now: a mirror with a write on its way is left alone, the next pass looks again.
The cursor is stored in the same commit, so a pass that fails stores nothing
and the next one sees the same changes again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from connectors.base import ChangeSet, ObservedEvent
from syncd.config.reconcile import ReconcileSettings
from syncd.reconcile import mirrors as mirror_ops
from syncd.reconcile import seen
from syncd.reconcile.conflicts import (
    Finding,
    announce_opened,
    drift_key,
    find_open,
    record_open,
    record_outcome,
)
from syncd.reconcile.conflicts import close as close_conflict
from syncd.reconcile.overlaps import Scope, check_overlaps, sweep_drift
from syncd.reconcile.recognise import CalendarSide, drift
from syncd.reconcile.rules import ConflictAction, can_take_time, decide, rule_for
from syncd.reconcile.state import PassPlan, check_lease, record_pass, state_of
from syncd.reconcile.unreadable import announce_unreadable, remember_unreadable
from syncd.store.bookings import change_booking
from syncd.store.changes import Actor
from syncd.store.models import Booking, CalendarBinding, Merchant, Mirror, Presence, Staff
from syncd.store.session import SyncdSession
from syncd.webhooks.emit import ConflictKind, Resolution

_CHUNK = 500
Lookups = dict[str, CalendarSide | None]  # href the feed reported gone → where the event is now


@dataclass
class PassSummary:
    complete: bool = False
    changed: int = 0
    removed: int = 0
    unreadable: int = 0
    set_apart: int = 0  # unreadable events not set apart before
    opened: int = 0
    rewritten: int = 0
    rescheduled: int = 0
    cleared: int = 0
    reset_reason: str | None = None


def _chunks(values: Iterable[str]) -> list[list[str]]:
    items = sorted(set(values))
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _keys(event: ObservedEvent) -> list[str]:
    return [key for key in (event.booking_key, event.uid) if key]


@dataclass
class _Mirrors:
    """The binding's mirrors a pass is about, by href and by booking UID, locked."""

    by_remote: dict[str, Mirror] = field(default_factory=dict)
    by_uid: dict[str, Mirror] = field(default_factory=dict)
    bookings: dict[str, int] = field(default_factory=dict)  # UID → booking id, any calendar

    @classmethod
    def load(cls, session: Session, binding_id: int, answer: ChangeSet) -> _Mirrors:
        found = cls()
        hrefs = [e.ref.remote_id for e in answer.changed] + list(answer.removed)
        uids = [key for e in answer.changed for key in _keys(e)]
        for batch in _chunks(hrefs):
            found._add(session, Mirror.remote_id.in_(batch), binding_id)
        for batch in _chunks(uids):
            found._add(session, Mirror.booking_id.in_(
                select(Booking.id).where(Booking.uid.in_(batch))), binding_id)
            query = select(Booking.uid, Booking.id).where(Booking.uid.in_(batch))
            found.bookings.update((uid, booking_id) for uid, booking_id in session.execute(query))
        return found

    def _add(self, session: Session, condition: ColumnElement[bool], binding_id: int) -> None:
        query = select(Mirror).where(Mirror.binding_id == binding_id, condition)
        query = query.options(selectinload(Mirror.booking).selectinload(Booking.service))
        for mirror in session.scalars(query.with_for_update()):
            if mirror.remote_id:
                self.by_remote[mirror.remote_id] = mirror
            self.by_uid[mirror.booking.uid] = mirror

    def for_event(self, event: ObservedEvent) -> Mirror | None:
        mirror = self.by_remote.get(event.ref.remote_id)
        for key in _keys(event):
            mirror = mirror or self.by_uid.get(key)
        return mirror

    def booking_of(self, event: ObservedEvent) -> int | None:
        return next((self.bookings[k] for k in _keys(event) if k in self.bookings), None)


def lookups_needed(
    session: Session, binding_id: int, answer: ChangeSet, now: datetime
) -> list[tuple[str, str]]:
    """(href, booking UID) of mirrored events the feed reported gone, to be looked up first."""
    if answer.exact_removals:
        return []  # gone means deleted: nothing to look up
    relinked = {key for event in answer.changed for key in _keys(event)}
    needed = []
    for batch in _chunks(answer.removed):
        query = select(Mirror).where(Mirror.binding_id == binding_id, Mirror.remote_id.in_(batch))
        for mirror in session.scalars(query):
            booking = mirror.booking
            wanted = mirror.desired == Presence.PRESENT and not mirror.pending
            if wanted and booking.end > now and booking.uid not in relinked:
                needed.append((str(mirror.remote_id), booking.uid))
    return needed


def apply_pass(
    session: SyncdSession,
    plan: PassPlan,
    answer: ChangeSet,
    lookups: Lookups,
    *,
    now: datetime,
    settings: ReconcileSettings,
    owner: str | None = None,
    grouped: bool = False,
) -> PassSummary:
    """Everything the pass found, settled; `LeaseLost` (nothing stored) if `owner` lost it.
    With `grouped` (a mass disappearance), one notice per calendar tells of its conflicts."""
    check_lease(session, plan.binding_id, owner)
    binding = session.get_one(CalendarBinding, plan.binding_id)
    state = state_of(session, plan.binding_id, now)
    previous = state.last_pass_at
    summary = PassSummary(answer.complete, len(answer.changed), len(answer.removed),
                          len(answer.unreadable), reset_reason=answer.reset_reason)
    run = _Pass(session, binding, answer, lookups, now, summary,
                _Mirrors.load(session, binding.id, answer), _held(session, binding))
    run.take_in()
    if answer.complete:  # the window may have moved too: let go of what fell out of it
        kept = {e.ref.remote_id for e in answer.changed} | (set(plan.known) - answer.removed)
        seen.keep_only(session, binding.id, kept)
        seen.drop_before(session, binding.id, plan.window.start)
    opened, cleared = check_overlaps(session, binding, now, run.overlap_scope(previous))
    summary.opened += opened
    summary.cleared += cleared + sweep_drift(session, binding, now)
    announce_opened(session, now, grouped=grouped)
    set_apart = remember_unreadable(state, answer)
    announce_unreadable(session, binding, set_apart, len(state.unreadable or []), now)
    summary.set_apart = len(set_apart)
    record_pass(state, plan, answer.cursor, now, settings, complete=answer.complete,
                reset_reason=answer.reset_reason, poll_within=answer.poll_within_seconds)
    return summary


def _held(session: Session, binding: CalendarBinding) -> list[object]:
    staff = session.get_one(Staff, binding.staff_id)
    return [staff, session.get_one(Merchant, staff.merchant_id)]


@dataclass
class _Pass:
    session: SyncdSession
    binding: CalendarBinding
    answer: ChangeSet
    lookups: Lookups
    now: datetime
    summary: PassSummary
    mirrors: _Mirrors
    # rows every conflict's notice reads: the session keeps only weak references to rows
    held: list[object] = field(default_factory=list)
    foreign: list[seen.Foreign] = field(default_factory=list)
    not_foreign: list[str] = field(default_factory=list)  # gone, or syncd's own

    def overlap_scope(self, previous: datetime | None) -> Scope | None:
        """Where to look for double bookings: everywhere after a complete listing."""
        if self.answer.complete or previous is None:
            return None
        recorded = frozenset(event.ref.remote_id for event, _ in self.foreign)
        return Scope(recorded, previous)

    def take_in(self) -> None:
        for event in self.answer.changed:
            self._changed(event)
        for remote_id in sorted(self.answer.removed):
            self._removed(remote_id)
        seen.record_foreign(self.session, self.binding, self.foreign)
        seen.forget(self.session, self.binding.id, self.not_foreign)

    def _changed(self, event: ObservedEvent) -> None:
        mirror = self.mirrors.for_event(event)
        if mirror is None:
            self.foreign.append((event, self.mirrors.booking_of(event)))
            return
        elsewhere = mirror.remote_id not in (None, event.ref.remote_id)
        if elsewhere and mirror.remote_id not in self.answer.removed:
            # a second event carrying the booking (a copy): busy time, never its conflict
            self.foreign.append((event, mirror.booking_id))
            return
        self.not_foreign.append(event.ref.remote_id)
        self._settle(mirror, CalendarSide.of(event), removal_reported=False)

    def _removed(self, remote_id: str) -> None:
        mirror = self.mirrors.by_remote.get(remote_id)
        if mirror is None:
            self.not_foreign.append(remote_id)
            return
        if mirror.remote_id != remote_id:
            return  # found again elsewhere in this pass
        if self.answer.exact_removals:
            found = None
        elif remote_id in self.lookups:
            found = self.lookups[remote_id]
        else:
            return  # not looked up: a write of ours is on its way, or it is not wanted
        self._settle(mirror, found, removal_reported=not self.answer.complete)

    def _settle(
        self, mirror: Mirror, found: CalendarSide | None, *, removal_reported: bool
    ) -> None:
        if mirror.pending:
            return  # a write of ours is on its way; the next pass looks again
        booking = mirror.booking
        if mirror.desired == Presence.ABSENT:
            if found is not None:
                mirror_ops.remove_stray(self.session, mirror, found.ref, self.now)
                self.summary.rewritten += 1
            return
        if booking.end <= self.now:
            if found is not None:
                mirror_ops.adopt(mirror, found.ref)  # history: nobody acts on it any more
            return
        kind = drift(booking.start, booking.end, found, removal_reported=removal_reported)
        if kind is None:
            assert found is not None  # no drift means it was found
            mirror_ops.adopt(mirror, found.ref)
            self._back_in_line(mirror)
            return
        self._act(mirror, kind, found)

    def _back_in_line(self, mirror: Mirror) -> None:
        conflict = find_open(self.session, drift_key(mirror.booking_id, self.binding.id))
        if conflict is not None:
            close_conflict(self.session, conflict, Resolution.CLEARED, actor=Actor.RECONCILIATION,
                           reason="the event shows the booking again", now=self.now)
            self.summary.cleared += 1

    def _act(self, mirror: Mirror, kind: ConflictKind, found: CalendarSide | None) -> None:
        booking = mirror.booking
        merchant = self.session.get_one(Merchant, booking.merchant_id)
        rule = rule_for(merchant.reconcile_rule, booking.service.reconcile_rule)
        action = decide(kind, rule)
        takes_time = found is not None and can_take_time(found.start, found.end)
        if action == ConflictAction.RESCHEDULE and not takes_time:
            action = ConflictAction.FLAG
        finding = Finding(
            booking, self.binding, kind, rule,
            found.ref if found else None,
            found.start if found else None,
            found.end if found else None,
            gone_from=None if found else mirror.remote_id,
        )
        if action == ConflictAction.REWRITE:
            self._rewrite(mirror, finding, found)
        elif action == ConflictAction.RESCHEDULE:
            assert found is not None
            self._reschedule(mirror, finding, found)
        else:
            self._flag(mirror, finding, found)

    def _rewrite(self, mirror: Mirror, finding: Finding, found: CalendarSide | None) -> None:
        reason = "the event was put back as the booking says"
        record_outcome(self.session, finding, Resolution.BOOKING_WINS, reason, self.now)
        mirror_ops.rewrite(self.session, mirror, found.ref if found else None, self.now)
        self.summary.rewritten += 1

    def _reschedule(self, mirror: Mirror, finding: Finding, found: CalendarSide) -> None:
        reason = "the booking was moved to the event's time"
        record_outcome(self.session, finding, Resolution.CALENDAR_WINS, reason, self.now)
        mirror_ops.adopt(mirror, found.ref)
        booking = self.session.get_one(
            Booking, mirror.booking_id, with_for_update=True, populate_existing=True
        )
        times: dict[str, object] = {"start": found.start, "end": found.end}
        change_booking(self.session, booking, times, Actor.RECONCILIATION)
        self.summary.rescheduled += 1

    def _flag(self, mirror: Mirror, finding: Finding, found: CalendarSide | None) -> None:
        if found is None:
            mirror_ops.detach(mirror)
        else:
            mirror_ops.adopt(mirror, found.ref)
        self.summary.opened += record_open(self.session, finding, self.now)[1]

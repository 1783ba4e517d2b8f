"""The conflict store: opening (de-duplicated), recording automatic outcomes, closing.

An open conflict is announced once: the platform gets `conflict.detected`,
the merchant and staff a notice. Seen again on later passes it stays the same
conflict (its sides and `times_seen` are brought up to date). Closing it,
whoever does, sends `conflict.resolved`. Outcomes the rules applied by
themselves (an event put back, a booking moved to the event's time) are kept
as conflicts that are resolved from the start, as history, and announce
nothing of their own: the booking change announces itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import RemoteRef
from syncd import metrics
from syncd.notify.conflicts import ConflictFacts, notify_conflict
from syncd.reconcile.models import CalendarConflict, ConflictStatus, Rule
from syncd.reconcile.recognise import DRIFT_KINDS
from syncd.store.changes import Actor
from syncd.store.models import Booking, CalendarBinding
from syncd.store.session import SyncdSession
from syncd.timeutil import utc_iso_or_none
from syncd.webhooks.emit import ConflictKind, ConflictReport, Resolution, emit_conflict_event

_OPENED = "syncd.reconcile.opened"  # session.info: conflicts still to be announced


@dataclass(frozen=True)
class Finding:
    """A disagreement a pass found, about to be recorded."""

    booking: Booking
    binding: CalendarBinding
    kind: ConflictKind
    rule: Rule
    ref: RemoteRef | None  # the event it is about (None: syncd's event, and it is gone)
    start: datetime | None = None  # what the calendar shows (None: nothing)
    end: datetime | None = None
    gone_from: str | None = None  # where the vanished event was

    @property
    def open_key(self) -> str:
        if self.kind in DRIFT_KINDS:
            return drift_key(self.booking.id, self.binding.id)
        remote_id = self.ref.remote_id if self.ref else ""
        digest = hashlib.sha256(remote_id.encode()).hexdigest()[:32]
        return f"overlap:{self.booking.id}:{self.binding.id}:{digest}"

    @property
    def remote_id(self) -> str | None:
        return self.ref.remote_id if self.ref else self.gone_from

    def calendar_side(self) -> dict[str, Any]:
        return {
            "event": self.remote_id,
            "etag": self.ref.etag if self.ref else None,
            "start": utc_iso_or_none(self.start),
            "end": utc_iso_or_none(self.end),
            "present": self.ref is not None,
        }


def drift_key(booking_id: int, binding_id: int) -> str:
    """One open drift conflict (moved, edited, deleted, missing) per booking and calendar."""
    return f"drift:{booking_id}:{binding_id}"


def booking_side(booking: Booking) -> dict[str, Any]:
    return {
        "start": utc_iso_or_none(booking.start),
        "end": utc_iso_or_none(booking.end),
        "status": booking.status,
        "version": booking.version,
    }


def find_open(session: Session, open_key: str) -> CalendarConflict | None:
    return session.scalar(select(CalendarConflict).where(CalendarConflict.open_key == open_key))


def open_on(
    session: Session, binding_id: int, kinds: Iterable[ConflictKind]
) -> list[CalendarConflict]:
    query = select(CalendarConflict).where(
        CalendarConflict.binding_id == binding_id,
        CalendarConflict.status == ConflictStatus.OPEN,
        CalendarConflict.kind.in_([str(k) for k in kinds]),
    )
    return list(session.scalars(query.order_by(CalendarConflict.id)))


def record_open(session: Session, found: Finding, now: datetime) -> tuple[CalendarConflict, bool]:
    """The open conflict for `found`, and whether it is new (then `announce_opened`, before
    the transaction commits, tells of it: in one go with the others, which is cheaper)."""
    existing = find_open(session, found.open_key)
    if existing is not None and existing.kind == found.kind:
        _seen_again(existing, found, now)
        return existing, False
    if existing is not None:
        reason = f"superseded: the event is now {found.kind}"
        close(session, existing, Resolution.CLEARED, actor=Actor.RECONCILIATION, reason=reason,
              now=now)
    conflict = _new(session, found, now, ConflictStatus.OPEN)
    session.info.setdefault(_OPENED, []).append((conflict, found))
    metrics.CONFLICTS_OPENED.labels(found.kind).inc()
    return conflict, True


def announce_opened(session: SyncdSession, now: datetime, *, grouped: bool = False) -> None:
    """`conflict.detected` and the notices for the conflicts opened in this transaction;
    `grouped` (a mass disappearance): one notice per calendar tells of all its conflicts."""
    opened: list[tuple[CalendarConflict, Finding]] = session.info.pop(_OPENED, [])
    if not opened:
        return
    session.flush()  # their ids
    with session.no_autoflush:  # the notices and events are written together, at commit
        for conflict, found in opened:
            _emit(conflict, found, session)
        for group in _notice_groups(opened, grouped):
            _notify(session, group, now)


_Opened = list[tuple[CalendarConflict, Finding]]


def _notice_groups(opened: _Opened, grouped: bool) -> list[_Opened]:
    """One notice per conflict, or with `grouped` one per calendar."""
    if not grouped:
        return [[item] for item in opened]
    by_binding: dict[int, _Opened] = {}
    for conflict, found in opened:
        by_binding.setdefault(found.binding.id, []).append((conflict, found))
    return list(by_binding.values())


def record_outcome(
    session: Session, found: Finding, resolution: Resolution, reason: str, now: datetime
) -> CalendarConflict:
    """A conflict the rules settled at once, kept as history; an open one it settles is closed."""
    existing = find_open(session, found.open_key)
    if existing is not None:
        close(session, existing, resolution, actor=Actor.RECONCILIATION, reason=reason, now=now)
    conflict = _new(session, found, now, ConflictStatus.RESOLVED)
    conflict.resolved_at, conflict.resolution = now, resolution
    conflict.resolved_by, conflict.reason = Actor.RECONCILIATION, reason
    metrics.CONFLICTS_OPENED.labels(found.kind).inc()
    metrics.CONFLICTS_RESOLVED.labels("automatic").inc()
    return conflict


def close(
    session: Session,
    conflict: CalendarConflict,
    resolution: Resolution,
    *,
    actor: Actor,
    reason: str,
    now: datetime,
) -> None:
    conflict.status, conflict.open_key = ConflictStatus.RESOLVED, None
    conflict.resolved_at, conflict.resolution = now, resolution
    conflict.resolved_by, conflict.reason = actor, reason
    by_hand = actor != Actor.RECONCILIATION
    metrics.CONFLICTS_RESOLVED.labels(resolution if by_hand else "automatic").inc()
    booking = session.get_one(Booking, conflict.booking_id)
    binding = session.get_one(CalendarBinding, conflict.binding_id)
    report = ConflictReport(
        str(conflict.id), booking, ConflictKind(conflict.kind), binding,
        resolution=resolution, actor=actor,
    )
    emit_conflict_event(session, report)


def _new(
    session: Session, found: Finding, now: datetime, status: ConflictStatus
) -> CalendarConflict:
    conflict = CalendarConflict(
        merchant_id=found.booking.merchant_id,
        booking_id=found.booking.id,
        binding_id=found.binding.id,
        kind=found.kind,
        status=status,
        rule=found.rule,
        open_key=found.open_key if status == ConflictStatus.OPEN else None,
        remote_id=found.remote_id,
        booking_side=booking_side(found.booking),
        calendar_side=found.calendar_side(),
        detected_at=now,
        last_seen_at=now,
        times_seen=1,
    )
    session.add(conflict)
    return conflict


def _seen_again(conflict: CalendarConflict, found: Finding, now: datetime) -> None:
    conflict.booking_side = booking_side(found.booking)
    conflict.calendar_side = found.calendar_side()
    conflict.remote_id = found.remote_id
    conflict.last_seen_at = now
    conflict.times_seen += 1


def _emit(conflict: CalendarConflict, found: Finding, session: Session) -> None:
    report = ConflictReport(
        str(conflict.id), found.booking, found.kind, found.binding, found.start, found.end
    )
    emit_conflict_event(session, report)


def _notify(session: SyncdSession, group: _Opened, now: datetime) -> None:
    """The notice of the group's first conflict, naming the others it stands for."""
    (conflict, found), others = group[0], tuple(c.id for c, _ in group[1:])
    facts = ConflictFacts(conflict.id, found.kind, found.binding.key, found.start, found.end,
                          others)
    notify_conflict(session, found.booking, facts, now)

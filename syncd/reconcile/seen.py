"""Events syncd did not write, as seen on a calendar, and the busy time they hold.

Written in batches (a complete listing may bring hundreds): one query finds the
rows already kept, one flush writes the events, one statement drops their old
intervals, and the new ones are inserted together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from connectors.base import ObservedEvent
from syncd.manage.busy import forget_stretches
from syncd.manage.slots import Interval
from syncd.reconcile.models import KEY_LENGTH, ObservedBusy, SeenEvent
from syncd.store.models import CalendarBinding

_CHUNK = 500
Foreign = tuple[ObservedEvent, int | None]  # an event, and the booking whose copy it is


def record_foreign(session: Session, binding: CalendarBinding, found: list[Foreign]) -> None:
    """Keep each event with its busy intervals; one holding no busy time in the window goes."""
    latest = {event.ref.remote_id: (event, booking_id) for event, booking_id in found}
    rows = _rows(session, binding.id, latest)
    kept = {rid: pair for rid, pair in latest.items() if pair[0].intervals}
    _delete(session, [row.id for rid, row in rows.items() if rid not in kept])
    for remote_id, (event, booking_id) in kept.items():
        row = rows.get(remote_id)
        if row is None:
            row = rows[remote_id] = SeenEvent(binding_id=binding.id, remote_id=remote_id)
            session.add(row)
        row.etag, row.busy, row.recurring = event.ref.etag, event.busy, event.recurring
        row.booking_id = booking_id
        row.uid, row.tag = _key(event.uid), _key(event.booking_key)
    session.flush()
    ids = [rows[remote_id].id for remote_id in kept]
    for first in range(0, len(ids), _CHUNK):
        batch = ids[first:first + _CHUNK]
        _forget_listed(session, batch)
        session.execute(delete(ObservedBusy).where(ObservedBusy.seen_event_id.in_(batch)))
    intervals = [
        {"seen_event_id": rows[remote_id].id, "binding_id": binding.id,
         "staff_id": binding.staff_id, "start": interval.start, "end": interval.end}
        for remote_id, (event, _) in kept.items()
        for interval in event.intervals
    ]
    if intervals:
        session.execute(insert(ObservedBusy), intervals)
        shown = [Interval(i.start, i.end) for event, _ in kept.values() for i in event.intervals]
        forget_stretches(session, [binding.id], shown)


def _key(value: str | None) -> str | None:
    return value if value is not None and len(value) <= KEY_LENGTH else None


def forget(session: Session, binding_id: int, remote_ids: Iterable[str]) -> None:
    _delete(session, [row.id for row in _rows(session, binding_id, remote_ids).values()])


def keep_only(session: Session, binding_id: int, kept: set[str]) -> None:
    """After a complete listing: what it neither showed nor left unchanged is gone."""
    rows = session.execute(
        select(SeenEvent.id, SeenEvent.remote_id).where(SeenEvent.binding_id == binding_id)
    ).all()
    _delete(session, [row_id for row_id, remote_id in rows if remote_id not in kept])


def drop_before(session: Session, binding_id: int, start: datetime) -> None:
    """Busy time that ended before the window, and events left with none."""
    session.execute(
        delete(ObservedBusy).where(ObservedBusy.binding_id == binding_id, ObservedBusy.end < start)
    )
    holding = select(ObservedBusy.seen_event_id).where(ObservedBusy.binding_id == binding_id)
    empty = select(SeenEvent.id).where(
        SeenEvent.binding_id == binding_id, SeenEvent.id.not_in(holding)
    )
    _delete(session, list(session.scalars(empty)))


def _rows(session: Session, binding_id: int, remote_ids: Iterable[str]) -> dict[str, SeenEvent]:
    wanted = sorted(set(remote_ids))
    rows: dict[str, SeenEvent] = {}
    for first in range(0, len(wanted), _CHUNK):
        query = select(SeenEvent).where(SeenEvent.binding_id == binding_id)
        query = query.where(SeenEvent.remote_id.in_(wanted[first:first + _CHUNK]))
        rows.update((row.remote_id, row) for row in session.scalars(query))
    return rows


def _delete(session: Session, row_ids: list[int]) -> None:
    for first in range(0, len(row_ids), _CHUNK):
        batch = row_ids[first:first + _CHUNK]
        _forget_listed(session, batch)
        session.execute(delete(ObservedBusy).where(ObservedBusy.seen_event_id.in_(batch)))
        session.execute(delete(SeenEvent).where(SeenEvent.id.in_(batch)))


def _forget_listed(session: Session, seen_ids: list[int]) -> None:
    """The busy time the listings stored over these events' old intervals is out of date
    (syncd.manage.busy): the next listing reads those stretches afresh."""
    rows = session.execute(
        select(ObservedBusy.binding_id, ObservedBusy.start, ObservedBusy.end)
        .where(ObservedBusy.seen_event_id.in_(seen_ids))
    )
    touched: dict[int, list[Interval]] = {}
    for binding_id, start, end in rows:
        touched.setdefault(binding_id, []).append(Interval(start, end))
    for binding_id, intervals in touched.items():
        forget_stretches(session, [binding_id], intervals)

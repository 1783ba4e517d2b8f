"""Claimed mirrors as tasks: read with what their events are made of, in Core statements.

A claim reads a mirror's row joined to its booking's, service's and staff
member's, only the columns an event is made of, and builds the task from the
row: no ORM objects (their identity map, instance state and lazy loaders were
most of a claim's cost) for rows that are dropped as soon as the task exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    any_,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Session

from connectors.base import EventSpec, RemoteRef
from syncd.domain.bookings import event_spec
from syncd.store.db import is_sqlite
from syncd.store.models import Booking, Mirror, Presence, Service, Staff


@dataclass(frozen=True)
class MirrorTask:
    """Everything needed to converge one mirror, detached from the session."""

    mirror_id: int
    booking_id: int
    booking_key: str  # the event's UID / tag
    desired: Presence
    desired_version: int
    ref: RemoteRef | None
    remote_may_exist: bool
    attempts: int
    # syncd cannot know whether the event exists (an earlier attempt, a new binding,
    # an import): look it up before creating one
    unsure: bool
    event: EventSpec | None  # None when the event should be absent


_MIRRORS: Table = Mirror.__table__  # type: ignore[assignment]  # a mapped class's own table

_MIRROR_COLUMNS = (
    Mirror.id,
    Mirror.booking_id,
    Mirror.binding_id,
    Mirror.desired,
    Mirror.desired_version,
    Mirror.remote_id,
    Mirror.etag,
    Mirror.remote_may_exist,
    Mirror.attempts,
    Mirror.generation,
)


@dataclass(slots=True)
class _EventFacts:
    """One claimed row's booking, service and staff member at once (the protocols of
    syncd.domain.bookings read by event_spec): the fields in _FACT_COLUMNS' order."""

    uid: str
    key: str
    start: datetime
    end: datetime
    sequence: int
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    notes: str
    status: str
    name: str  # the service's
    location: str  # the service's
    timezone: str  # the staff member's

    @property
    def service(self) -> _EventFacts:
        return self

    @property
    def staff(self) -> _EventFacts:
        return self


_FACT_COLUMNS = (
    Booking.uid,
    Booking.key,
    Booking.start,
    Booking.end,
    Booking.sequence,
    Booking.customer_name,
    Booking.customer_email,
    Booking.customer_phone,
    Booking.notes,
    Booking.status,
    Service.name,
    Service.location,
    Staff.timezone,
)
_FACTS_FROM = len(_MIRROR_COLUMNS)


def _with_events(chosen: ColumnElement[bool], order: tuple[Any, ...]) -> Select[*tuple[Any, ...]]:
    return (
        select(*_MIRROR_COLUMNS, *_FACT_COLUMNS)
        .join(Booking, Booking.id == Mirror.booking_id)
        .join(Service, Service.id == Booking.service_id)
        .join(Staff, Staff.id == Booking.staff_id)
        .where(chosen)
        .order_by(*order)
    )


def claim_tasks(
    session: Session, ids: Select[Any], order: tuple[Any, ...]
) -> list[tuple[int, MirrorTask]]:
    """The mirrors `ids` selects, locked, as (binding id, task), each marked as possibly
    written before any request leaves.

    Two statements on PostgreSQL: it re-reads a row it waited to lock, but not the
    rows joined to it, so one locking statement could pair a mirror's new version
    with its booking's old one. Read after the locks are held, both are of one moment.
    A booking's change waits for the claim (and then sees the mark), or the claim for
    the change (and then sees the new version).
    """
    sqlite = is_sqlite(session.get_bind())
    if sqlite:  # one writer: one statement is enough
        chosen: ColumnElement[bool] = Mirror.id.in_(ids.scalar_subquery())
    else:
        locked = list(session.scalars(ids.with_for_update(of=Mirror)))
        if not locked:
            return []
        chosen = _among(locked)
    rows = session.execute(_with_events(chosen, order)).all()
    _mark_may_exist(session, [row.id for row in rows if _will_write(row)], sqlite=sqlite)
    return [(row.binding_id, _task(row)) for row in rows]


def _among(mirror_ids: list[int]) -> ColumnElement[bool]:
    """The mirrors of `mirror_ids`, on PostgreSQL: as one array parameter the statement's
    text is the same for any number of ids, and psycopg and SQLAlchemy reuse its parsing;
    an IN list binds one parameter per id, and psycopg parses one of more than 50 anew."""
    return _MIRRORS.c.id == any_(bindparam("mirror_ids", mirror_ids, type_=ARRAY(Integer)))


def _will_write(row: Row[Any]) -> bool:
    return row.desired == Presence.PRESENT and not row.remote_may_exist


def _mark_may_exist(session: Session, mirror_ids: list[int], *, sqlite: bool) -> None:
    if mirror_ids:
        among = _MIRRORS.c.id.in_(mirror_ids) if sqlite else _among(mirror_ids)
        marked = update(_MIRRORS).where(among)
        session.connection().execute(marked.values(remote_may_exist=True))


def _task(row: Row[Any]) -> MirrorTask:
    present = row.desired == Presence.PRESENT
    ref = RemoteRef(row.remote_id, row.etag) if row.remote_id else None
    return MirrorTask(
        mirror_id=row.id,
        booking_id=row.booking_id,
        booking_key=row.uid,
        desired=Presence(row.desired),
        desired_version=row.desired_version,
        ref=ref,
        remote_may_exist=row.remote_may_exist or present,
        attempts=row.attempts,
        unsure=row.remote_may_exist and ref is None,
        event=_event(row) if present else None,
    )


def _event(row: Row[Any]) -> EventSpec:
    spec = event_spec(_EventFacts(*row[_FACTS_FROM:]))
    return replace(spec, generation=row.generation) if row.generation else spec

"""Calendar leases: who may write to a calendar, fenced by a generation.

Whoever holds a binding's lease is the only one writing to that calendar.
Leases are fenced: every acquisition (syncd/store/work.py, start_passes)
counts the binding's `lease_generation` up, a renewal holds only for the owner
and generation it was taken with, and results are recorded only while both
still match. A worker paused past its lease (however long) wakes to find it
cannot renew and can record nothing, even when the calendar was released
meanwhile and nobody holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, Update, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from syncd.store.models import BindingState, CalendarBinding


@dataclass(frozen=True)
class Lease:
    """Who holds a calendar, and the acquisition it is (the fencing token)."""

    owner: str
    generation: int


def lease_free(owner: str, now: datetime) -> ColumnElement[bool]:
    return or_(
        CalendarBinding.lease_owner.is_(None),
        CalendarBinding.lease_owner == owner,
        CalendarBinding.lease_expires_at < now,
    )


def held(lease: Lease) -> ColumnElement[bool]:
    """Bindings `lease` still holds: same owner, same acquisition (expired or not: a lease
    nobody took since is still this one)."""
    return and_(
        CalendarBinding.lease_owner == lease.owner,
        CalendarBinding.lease_generation == lease.generation,
    )


def renew_lease(
    session: Session, binding_id: int, lease: Lease, now: datetime, seconds: float
) -> bool:
    """Extend `lease`; False if the calendar was released or acquired since (lease lost)."""
    result = session.execute(
        update(CalendarBinding)
        .where(CalendarBinding.id == binding_id, held(lease))
        .values(lease_expires_at=now + timedelta(seconds=seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def holds_lease(session: Session, binding_id: int, lease: Lease) -> bool:
    query = select(CalendarBinding.id).where(CalendarBinding.id == binding_id, held(lease))
    return session.scalar(query) is not None


HEALED = {  # a calendar whose failure streak ended
    "consecutive_failures": 0,
    "paused_until": None,
    "last_error": None,
    "state": BindingState.OK,
}


@dataclass(frozen=True)
class Release:
    """A calendar to give back; with `heal` (its writes went well), its failure streak ends."""

    binding_id: int
    owner: str
    heal: bool = False


def release_leases(session: Session, releases: Sequence[Release]) -> None:
    """Give calendars back, each only if `owner` still holds it: a batched UPDATE per kind."""
    for heal in (False, True):
        rows = [{"r_id": r.binding_id, "r_owner": r.owner} for r in releases if r.heal is heal]
        if rows:
            session.execute(_release_statement(heal=heal), rows)


def _release_statement(*, heal: bool) -> Update:
    table: Table = CalendarBinding.__table__  # type: ignore[assignment]  # the class's own table
    return (
        update(table)
        .where(table.c.id == bindparam("r_id"), table.c.lease_owner == bindparam("r_owner"))
        .values(lease_owner=None, lease_expires_at=None, **(HEALED if heal else {}))
    )


def release_lease(session: Session, binding_id: int, owner: str, *, heal: bool = False) -> None:
    """One calendar's `release_leases`."""
    release_leases(session, [Release(binding_id, owner, heal)])


def release_all_leases(session: Session, owner: str | None = None) -> None:
    """Drop leases held by `owner`, or every lease (a single-process start)."""
    query = update(CalendarBinding).values(lease_owner=None, lease_expires_at=None)
    if owner is not None:
        query = query.where(CalendarBinding.lease_owner == owner)
    session.execute(query)

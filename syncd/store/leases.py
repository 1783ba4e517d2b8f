"""Calendar leases: who may write to a calendar, fenced by a generation.

Whoever holds a binding's lease is the only one writing to that calendar.
Leases are fenced: every acquisition (syncd/store/work.py, start_passes)
counts the binding's `lease_generation` up, a renewal holds only for the owner
and generation it was taken with, and results are recorded only while both
still match. A worker paused past its lease (however long) wakes to find it
cannot renew and can record nothing, even when the calendar was released
meanwhile and nobody holds it.

Calendars that share limits share a lease key (for Microsoft 365 the mailbox:
Outlook's 4 concurrent requests are per mailbox, whichever calendar). A
binding is leased only while no binding of its key is leased by another
worker, so a mailbox's calendars are all served by one worker at a time and
its limit holds across processes. Leasing locks every row of the key
(syncd/store/work.py, start_passes), so two workers cannot take two
calendars of one mailbox at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from syncd.store.accounts import recover_accounts
from syncd.store.models import BindingState, CalendarBinding
from syncd.store.queue import LeaseColumns

BINDING_LEASES = LeaseColumns(
    CalendarBinding, CalendarBinding.lease_owner, CalendarBinding.lease_expires_at
)


@dataclass(frozen=True)
class Lease:
    """Who holds a calendar, and the acquisition it is (the fencing token)."""

    owner: str
    generation: int


def lease_free(owner: str, now: datetime) -> ColumnElement[bool]:
    return or_(BINDING_LEASES.free(now), CalendarBinding.lease_owner == owner)


def _live(binding: type[CalendarBinding], now: datetime) -> ColumnElement[bool]:
    return and_(binding.lease_owner.is_not(None), binding.lease_expires_at >= now)


def key_held(now: datetime, owner: str | None = None) -> ColumnElement[bool]:
    """Bindings whose lease key some binding holds unexpired (with `owner`: another
    worker than it), themselves included."""
    other = aliased(CalendarBinding)
    holder = _live(other, now)
    if owner is not None:
        holder = and_(holder, other.lease_owner != owner)
    same_key = or_(
        other.id == CalendarBinding.id,
        and_(other.lease_key.is_not(None), other.lease_key == CalendarBinding.lease_key),
    )
    return exists(select(other.id).where(same_key, holder))


@dataclass(frozen=True)
class _KeyRow:
    id: int
    group: str  # the lease key, or the binding alone while it has none
    held_by: str | None  # the owner of an unexpired lease


def free_keys(
    session: Session, binding_ids: Sequence[int], owner: str, now: datetime
) -> list[int]:
    """Of `binding_ids`, those no other worker holds through their lease key, each key's
    rows locked for the transaction; a key with a row locked elsewhere is left for later."""
    locked = _key_rows(session, binding_ids, now, lock=True)
    every = Counter(row.group for row in _key_rows(session, binding_ids, now, lock=False))
    seen = Counter(row.group for row in locked)
    taken = {row.group for row in locked if row.held_by not in (None, owner)}
    usable = {group for group, size in seen.items() if every[group] == size} - taken
    wanted = set(binding_ids)
    return [row.id for row in locked if row.id in wanted and row.group in usable]


def _key_rows(
    session: Session, binding_ids: Sequence[int], now: datetime, *, lock: bool
) -> list[_KeyRow]:
    """The bindings sharing a lease key with `binding_ids` (those included); with `lock`,
    locked (PostgreSQL: in one order, and a row another transaction holds is left out
    rather than waited for; SQLite has one writer anyway)."""
    keys = select(CalendarBinding.lease_key).where(
        CalendarBinding.id.in_(binding_ids), CalendarBinding.lease_key.is_not(None)
    )
    query = (
        select(CalendarBinding.id, CalendarBinding.lease_key, CalendarBinding.lease_owner)
        .add_columns(_live(CalendarBinding, now).label("live"))
        .where(or_(CalendarBinding.id.in_(binding_ids), CalendarBinding.lease_key.in_(keys)))
        .order_by(CalendarBinding.id)
    )
    if lock:
        query = query.with_for_update(of=CalendarBinding, skip_locked=True)
    return [
        _KeyRow(row.id, row.lease_key or f"binding:{row.id}", row.lease_owner if row.live else None)
        for row in session.execute(query)
    ]


def unkeyed(session: Session) -> list[tuple[int, str, str]]:
    """Bindings without a lease key yet: (id, connector, calendar id). The caller
    keeps those of connectors it knows (a list of every stored account's name as
    parameters would outgrow what one statement may carry)."""
    query = select(
        CalendarBinding.id, CalendarBinding.connector, CalendarBinding.calendar_id
    ).where(CalendarBinding.lease_key.is_(None))
    return [(row.id, row.connector, row.calendar_id) for row in session.execute(query)]


def assign_lease_keys(session: Session, keys: Mapping[int, str]) -> None:
    """Give bindings their lease keys (only those still without one)."""
    table: Table = CalendarBinding.__table__  # type: ignore[assignment]  # the class's own table
    statement = (
        update(table)
        .where(table.c.id == bindparam("k_id"), table.c.lease_key.is_(None))
        .values(lease_key=bindparam("k_key"))
    )
    rows = [{"k_id": binding_id, "k_key": key} for binding_id, key in keys.items()]
    if rows:
        session.execute(statement, rows)


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
    until = now + timedelta(seconds=seconds)
    return BINDING_LEASES.extend(session, until, CalendarBinding.id == binding_id, held(lease)) > 0


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
        if rows and heal:
            recover_accounts(session, [r.binding_id for r in releases if r.heal])
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
    BINDING_LEASES.release(session, owner)

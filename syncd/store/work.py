"""The worker's side of the store: leasing calendars, claiming due mirrors, recording results.

The unit of leasing is a calendar binding: whoever holds a binding's lease is
the only one writing to that calendar, so a booking's writes are never
reordered. Bindings sharing a lease key (one mailbox) are leased to one worker
at a time, so a mailbox's concurrency limit holds across processes.

Leases themselves (fenced by a generation) are in syncd/store/leases.py; the
mirrors are a durable queue (syncd/store/queue.py) claimed under them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from connectors.base import RemoteRef
from syncd.store.leases import (
    HEALED,
    Lease,
    free_keys,
    held,
    holds_lease,
    key_held,
    lease_free,
    renew_lease,
)
from syncd.store.models import BindingState, CalendarBinding, Mirror, Presence
from syncd.store.queue import QueueTable
from syncd.store.schedule import PassSchedule
from syncd.store.tasks import MirrorTask, claim_tasks
from syncd.timeutil import utcnow


@dataclass(frozen=True)
class Outcome:
    """What the calendar holds after a successful converge."""

    actual: Presence
    version: int | None
    ref: RemoteRef | None
    generation: int | None = None  # the create lineage it ended in; None: unchanged


@dataclass(frozen=True)
class Claim:
    """A calendar just leased and its first claimed mirrors."""

    generation: int
    tasks: list[MirrorTask]


@dataclass(frozen=True)
class BindingTarget:
    binding_id: int
    connector: str
    calendar_id: str


# Leased a calendar at a time (the binding's lease), not row by row.
MIRRORS = QueueTable(
    model=Mirror,
    id=Mirror.id,
    waiting=and_(Mirror.pending.is_(True), Mirror.dead.is_(False)),
    next_attempt_at=Mirror.next_attempt_at,
)


def due_bindings(
    session: Session, owner: str, now: datetime, limit: int, *, passes: PassSchedule | None = None
) -> list[BindingTarget]:
    """Calendars with work due now that nobody else holds (with `passes`: or a reconcile pass)."""
    due = select(Mirror.binding_id).where(*MIRRORS.due(now)).distinct().scalar_subquery()
    wanted: ColumnElement[bool] = CalendarBinding.id.in_(due)
    if passes is not None:
        wanted = or_(wanted, passes.due(now))
    query = (
        select(CalendarBinding.id, CalendarBinding.connector, CalendarBinding.calendar_id)
        .where(wanted, lease_free(owner, now), ~key_held(now, owner))
        .where(or_(CalendarBinding.paused_until.is_(None), CalendarBinding.paused_until <= now))
        .order_by(CalendarBinding.id)
        .limit(limit)
    )
    return [BindingTarget(*row) for row in session.execute(query)]


def next_due_time(session: Session, *, passes: PassSchedule | None = None) -> datetime | None:
    """When the earliest waiting mirror, paused calendar (or, with `passes`, pass) becomes due.

    Mirrors of a calendar some worker holds are not waiting for this one: the holder
    works them, and this worker looks again when the lease ends (a run of its own wakes
    it when it finishes). Without that, every worker would poll while others write.
    """
    now = utcnow()
    held = key_held(now)  # its own lease, or another calendar's of its mailbox
    leased = and_(CalendarBinding.lease_owner.is_not(None), CalendarBinding.lease_expires_at >= now)
    # A paused calendar's mirrors wait for the pause's end (the `paused` time below),
    # however long ago they fell due: counting them would make the worker spin.
    resting = and_(CalendarBinding.paused_until.is_not(None), CalendarBinding.paused_until > now)
    mirror_due = (
        select(func.min(Mirror.next_attempt_at))
        .join(CalendarBinding, Mirror.binding_id == CalendarBinding.id)
        .where(MIRRORS.waiting, ~held, ~resting)
    )
    waiting_bindings = select(Mirror.binding_id).where(MIRRORS.waiting)
    waiting_keys = select(CalendarBinding.lease_key).where(CalendarBinding.id.in_(waiting_bindings))
    lease_ends = select(func.min(CalendarBinding.lease_expires_at)).where(
        leased,
        or_(
            CalendarBinding.id.in_(waiting_bindings),
            CalendarBinding.lease_key.in_(waiting_keys),
        ),
    )
    paused = select(func.min(CalendarBinding.paused_until)).where(
        CalendarBinding.paused_until > now
    )
    # One statement for the three: the worker asks after every round.
    both = select(mirror_due.scalar_subquery(), lease_ends.scalar_subquery(),
                  paused.scalar_subquery())
    times = list(session.execute(both).one())
    if passes is not None:
        times.append(passes.next_time(session, utcnow(), held))
    present = [t for t in times if t is not None]
    return min(present) if present else None


def start_passes(
    session: Session,
    binding_ids: Sequence[int],
    owner: str,
    now: datetime,
    *,
    lease_seconds: float,
    limit: int,
) -> dict[int, Claim]:
    """Lease the calendars nobody else holds and claim each one's first due mirrors.

    One transaction for all of them, so that the first writes of many calendars
    leave together. Returns the claims of the calendars leased, by binding id.
    """
    leased = _lease_free_ones(session, binding_ids, owner, now, lease_seconds)
    claims = {binding_id: Claim(generation, []) for binding_id, generation in leased.items()}
    if leased:
        for binding_id, task in _first_due(session, list(leased), now, limit):
            claims[binding_id].tasks.append(task)
    return claims


def _lease_free_ones(
    session: Session, binding_ids: Sequence[int], owner: str, now: datetime, seconds: float
) -> dict[int, int]:
    """The calendars leased, each with its new generation."""
    leased = free_keys(session, binding_ids, owner, now)
    if leased:
        session.execute(
            update(CalendarBinding)
            .where(CalendarBinding.id.in_(leased))
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=seconds),
                lease_generation=CalendarBinding.lease_generation + 1,
            )
            .execution_options(synchronize_session=False)
        )
    generations = select(CalendarBinding.id, CalendarBinding.lease_generation)
    rows = session.execute(generations.where(CalendarBinding.id.in_(leased)))
    return {row.id: row.lease_generation for row in rows}


def _first_due(
    session: Session, binding_ids: list[int], now: datetime, limit: int
) -> list[tuple[int, MirrorTask]]:
    order = (Mirror.next_attempt_at, Mirror.id)
    rank = func.row_number().over(partition_by=Mirror.binding_id, order_by=order)
    ranked = (
        select(Mirror.id, rank.label("rank"))
        .where(Mirror.binding_id.in_(binding_ids), *MIRRORS.due(now))
        .subquery()
    )
    first = select(Mirror.id).join(ranked, ranked.c.id == Mirror.id).where(ranked.c.rank <= limit)
    return claim_tasks(session, first, (Mirror.binding_id, *order))


def lease_and_claim(
    session: Session,
    binding_id: int,
    lease: Lease,
    now: datetime,
    *,
    lease_seconds: float,
    limit: int,
    busy: set[int] | None = None,
) -> list[MirrorTask] | None:
    """Extend the lease and claim due mirrors in one transaction; None if it is lost."""
    if not renew_lease(session, binding_id, lease, now, lease_seconds):
        return None
    return claim_due(session, binding_id, now, limit, busy)


# Built once: a calendar pass asks after every batch, and building the statement anew
# cost more than running it.
_HAS_DUE = (
    select(Mirror.id)
    .where(Mirror.binding_id == bindparam("binding_id"), MIRRORS.waiting)
    .where(Mirror.next_attempt_at <= bindparam("now"))  # MIRRORS.due, its time bound late
    .where(Mirror.id.not_in(bindparam("busy", expanding=True)))
    .limit(1)
)


def has_due(session: Session, binding_id: int, now: datetime, busy: set[int]) -> bool:
    """Whether `claim_due` would find anything: a read, to spare a writer's transaction."""
    found = session.scalar(_HAS_DUE, {"binding_id": binding_id, "now": now, "busy": list(busy)})
    return found is not None


def task_current(session: Session, binding_id: int, lease: Lease, task: MirrorTask) -> bool:
    """Whether `task` is still worth writing: its lease held, its mirror still wanting it."""
    query = (
        select(Mirror.id)
        .join(CalendarBinding, CalendarBinding.id == Mirror.binding_id)
        .where(Mirror.id == task.mirror_id, CalendarBinding.id == binding_id, held(lease))
        .where(Mirror.desired == task.desired, Mirror.desired_version == task.desired_version)
    )
    return session.scalar(query) is not None


@dataclass(frozen=True)
class Renewal:
    renewed: bool  # the lease still this worker's, extended from now
    current: bool  # and the task still worth writing


def renew_for_task(
    session: Session, binding_id: int, lease: Lease, task: MirrorTask, now: datetime, *,
    lease_seconds: float,
) -> Renewal:
    """Extend `lease` and tell whether `task` is still current, in one transaction."""
    if not renew_lease(session, binding_id, lease, now, lease_seconds):
        return Renewal(renewed=False, current=False)
    return Renewal(renewed=True, current=task_current(session, binding_id, lease, task))


def claim_due(
    session: Session, binding_id: int, now: datetime, limit: int, busy: set[int] | None = None
) -> list[MirrorTask]:
    """The binding's due mirrors not in `busy`, marked as possibly written before any request."""
    order = (Mirror.next_attempt_at, Mirror.id)
    due = (
        select(Mirror.id)
        .where(Mirror.binding_id == binding_id, *MIRRORS.due(now))
        .where(Mirror.id.not_in(busy or ()))
        .order_by(*order)
        .limit(limit)
    )
    return [task for _, task in claim_tasks(session, due, order)]


def record_failure(
    session: Session,
    task: MirrorTask,
    error: str,
    retry_at: datetime,
    *,
    dead: bool,
    report_dead: Callable[[Session, int, str], None],
    lease: Lease | None = None,
) -> bool:
    """Count a failed attempt; a booking changed meanwhile gets fresh attempts instead.
    With `lease`, nothing is recorded unless it still holds the mirror's calendar.
    True when the mirror was dead-lettered now, which `report_dead` (the webhook
    event, syncd.webhooks.emit.mirror_dead_lettered) is told of in this transaction."""
    mirror = session.get(Mirror, task.mirror_id, with_for_update=True)
    if mirror is None or (lease and not holds_lease(session, mirror.binding_id, lease)):
        return False
    if (mirror.desired, mirror.desired_version) != (task.desired, task.desired_version):
        mirror.attempts, mirror.last_error, mirror.next_attempt_at = 0, error, utcnow()
        return False
    mirror.attempts += 1
    mirror.last_error, mirror.next_attempt_at, mirror.dead = error, retry_at, dead
    if dead:
        report_dead(session, mirror.id, error)
    return dead


def pause_binding(
    session: Session,
    binding_id: int,
    until: datetime,
    error: str,
    state: BindingState = BindingState.PAUSED,
) -> int:
    """Hold back a whole calendar after an outage; returns its failure streak."""
    binding = session.get(CalendarBinding, binding_id, with_for_update=True)
    if binding is None:
        return 0
    binding.consecutive_failures += 1
    binding.paused_until, binding.last_error, binding.state = until, error, state
    return binding.consecutive_failures


def failure_streak(session: Session, binding_id: int) -> int:
    binding = session.get(CalendarBinding, binding_id)
    return binding.consecutive_failures if binding else 0


def _unhealthy() -> ColumnElement[bool]:
    return or_(
        CalendarBinding.consecutive_failures > 0,
        CalendarBinding.paused_until.is_not(None),
        CalendarBinding.state != BindingState.OK,
    )


def needs_healing(session: Session, binding_id: int) -> bool:
    """Whether `mark_binding_healthy` would change anything: a read, to spare a write."""
    query = select(CalendarBinding.id).where(CalendarBinding.id == binding_id, _unhealthy())
    return session.scalar(query) is not None


def mark_binding_healthy(session: Session, binding_id: int) -> None:
    """Its failure streak ends; a refused calendar stays in auth_error until something works
    (its release heals it): a refusal again is no new one (syncd/worker/refused.py)."""
    refused = CalendarBinding.state == BindingState.AUTH_ERROR
    session.execute(
        update(CalendarBinding)
        .where(CalendarBinding.id == binding_id, _unhealthy())
        .values(**HEALED | {
            "state": case((refused, CalendarBinding.state), else_=BindingState.OK),
            "last_error": case((refused, CalendarBinding.last_error), else_=None),
        })
    )


def count_pending(session: Session) -> int:
    query = select(func.count()).select_from(Mirror).where(MIRRORS.waiting)
    return session.scalar(query) or 0

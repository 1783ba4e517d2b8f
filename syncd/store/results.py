"""Recording what the calendars hold after the worker's writes, many mirrors at a time.

The worker's group commit (syncd/store/group_commit.py) hands every success of
a group to `record_successes` at once: one batched UPDATE (the mirrors' outcome
statement, syncd/store/queue.py), no read before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, Update, and_, bindparam, func, not_, or_, select
from sqlalchemy.orm import Session

from syncd.store.leases import Lease
from syncd.store.models import CalendarBinding, Mirror, Presence
from syncd.store.queue import ROW_ID, record_all
from syncd.store.work import MIRRORS, Outcome


@dataclass(frozen=True)
class Success:
    """A converge that succeeded at `at`, to be recorded."""

    mirror_id: int
    outcome: Outcome
    at: datetime
    lease: Lease | None = None  # recorded only while it still holds the mirror's calendar


def record_successes(session: Session, successes: Sequence[Success]) -> None:
    """Store what the calendars now hold: one UPDATE per mirror, sent as one batch.

    Whether the mirror is converged is decided by the row's desired state at the
    time of the UPDATE, so a booking changed meanwhile leaves its mirror pending.
    """
    fenced = [_success_row(s) | _lease_row(s.lease) for s in successes if s.lease]
    record_all(session, _RECORD_FENCED_SUCCESS, fenced)
    record_all(session, _RECORD_SUCCESS, [_success_row(s) for s in successes if not s.lease])


def _record_success_statement() -> Update:
    table: Table = Mirror.__table__  # type: ignore[assignment]  # a mapped class's own table
    # syncd.store.mirrors.is_converged, judged on the row as it is when updated
    converged = and_(
        table.c.desired == bindparam("s_actual"),
        or_(table.c.desired == Presence.ABSENT, table.c.desired_version == bindparam("s_version")),
    )
    return MIRRORS.outcome_statement(
        {
            "actual": bindparam("s_actual"),
            "actual_version": bindparam("s_version"),
            "remote_id": bindparam("s_remote_id"),
            "etag": bindparam("s_etag"),
            "remote_may_exist": bindparam("s_may_exist"),
            "generation": func.coalesce(bindparam("s_generation"), table.c.generation),
            "attempts": 0,
            "last_error": None,
            "pending": not_(converged),
            "next_attempt_at": bindparam("s_at"),
        }
    )


def _fenced(statement: Update) -> Update:
    """Only where the lease the work was claimed under still holds the mirror's calendar."""
    table: Table = Mirror.__table__  # type: ignore[assignment]  # a mapped class's own table
    # Correlated on the binding's key: one index lookup per row, where an IN over the
    # holders' ids would read every binding per recorded row.
    held = select(CalendarBinding.id).where(
        CalendarBinding.id == table.c.binding_id,
        CalendarBinding.lease_owner == bindparam("s_owner"),
        CalendarBinding.lease_generation == bindparam("s_lease_generation"),
    )
    return statement.where(held.exists())


_RECORD_SUCCESS = _record_success_statement()
_RECORD_FENCED_SUCCESS = _fenced(_record_success_statement())


def _lease_row(lease: Lease | None) -> dict[str, object]:
    assert lease is not None
    return {"s_owner": lease.owner, "s_lease_generation": lease.generation}


def _success_row(success: Success) -> dict[str, object]:
    outcome, ref = success.outcome, success.outcome.ref
    return {
        ROW_ID: success.mirror_id,
        "s_actual": outcome.actual,
        "s_version": outcome.version,
        "s_remote_id": ref.remote_id if ref else None,
        "s_etag": ref.etag if ref else None,
        "s_may_exist": outcome.actual == Presence.PRESENT,
        "s_generation": outcome.generation,
        "s_at": success.at,
    }

"""Durable queues in the store: due rows claimed under a lease, outcomes recorded in groups.

Mail (syncd/notify/queue.py), webhook deliveries (syncd/webhooks/queue.py)
and mirrors (syncd/store/work.py) are each a table worked the same way, told
apart here only by their columns (`QueueTable`): a row waits (its state)
until its next attempt is due; a sender claims due rows by putting its name
and an expiry on them (a lease), in a commit before it works them, and keeps
the lease alive while it does (a heartbeat); a lease whose holder died
expires, and the row is claimed again. Outcomes are recorded many rows per
statement (group commit). What is a queue's own stays with it: mail's
Message-ID, webhook lanes, the calendar leases mirrors are claimed under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, Update, bindparam, func, or_, select
from sqlalchemy import update as update_statement
from sqlalchemy.orm import InstrumentedAttribute, Session

ROW_ID = "q_id"  # the bound parameter naming the row an outcome is for


@dataclass(frozen=True)
class LeaseColumns:
    """Where a table keeps who holds a row and until when."""

    model: type[Any]
    owner: InstrumentedAttribute[str | None]
    expires_at: InstrumentedAttribute[datetime | None]

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Rows nobody holds, or whose holder's lease ran out."""
        return or_(self.owner.is_(None), self.expires_at < now)

    def extend(self, session: Session, until: datetime, *rows: ColumnElement[bool]) -> int:
        """The heartbeat: leases of `rows` (conditions naming the holder) now end at `until`;
        how many were still held."""
        result = session.execute(
            update_statement(self.model).where(*rows).values({self.expires_at: until})
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def release(self, session: Session, owner: str | None = None) -> None:
        """Free the rows `owner` holds, or every row (the one process of an SQLite database,
        starting: whatever a killed run held is stale)."""
        query = update_statement(self.model).where(self.owner.is_not(None))
        if owner is not None:
            query = query.where(self.owner == owner)
        session.execute(query.values({self.owner: None, self.expires_at: None}))


@dataclass(frozen=True)
class QueueTable:
    """A table worked as a durable queue: its id, which rows wait for an attempt, when, and
    (unless leased elsewhere, as mirrors are through their calendar) its lease columns."""

    model: type[Any]
    id: InstrumentedAttribute[int]
    waiting: ColumnElement[bool]
    next_attempt_at: InstrumentedAttribute[datetime]
    lease: LeaseColumns | None = None

    def due(self, now: datetime) -> list[ColumnElement[bool]]:
        """Rows to work now: waiting, their attempt due, nobody holding them."""
        due = [self.waiting, self.next_attempt_at <= now]
        return [*due, self.lease.free(now)] if self.lease else due

    def claim(
        self,
        session: Session,
        query: Select[Any],
        owner: str,
        until: datetime,
        now: datetime,
        **values: Any,
    ) -> list[Row[Any]]:
        """Lease the due rows `query` picks (the row id its first column; ordered and limited
        by the caller) to `owner` until `until`, setting `values` on them too. Rows another
        sender has locked meanwhile are skipped, not waited for."""
        locked = query.where(*self.due(now)).with_for_update(of=self.model, skip_locked=True)
        rows = session.execute(locked).all()
        taken = set(self._take(session, [row[0] for row in rows], owner, until, now, **values))
        return [row for row in rows if row[0] in taken]

    def _take(
        self,
        session: Session,
        ids: Sequence[int],
        owner: str,
        until: datetime,
        now: datetime,
        **values: Any,
    ) -> list[int]:
        """Lease the rows of `ids` still waiting and free; the ids leased. (Asked again in
        the UPDATE: SQLite locks no rows, so only this makes two claims exclusive there.)"""
        lease = self._lease()
        if not ids:
            return []
        taken = session.execute(
            self.update(self.id.in_(ids), self.waiting, lease.free(now))
            .values({lease.owner: owner, lease.expires_at: until, **values})
            .returning(self.id)
        )
        return list(taken.scalars())

    def update(self, *conditions: ColumnElement[bool]) -> Update:
        """An UPDATE of the rows meeting `conditions`; loaded copies are not synchronised
        (a sender never holds its rows as objects)."""
        return (
            update_statement(self.model)
            .where(*conditions)
            .execution_options(synchronize_session=False)
        )

    def next_due_time(
        self, session: Session, now: datetime, *conditions: ColumnElement[bool],
        lease_ends: bool = True,
    ) -> datetime | None:
        """When the earliest free waiting row (meeting `conditions`) comes due; with
        `lease_ends`, or a lease on a waiting row runs out (its holder may have died)."""
        lease = self._lease()
        waiting = select(func.min(self.next_attempt_at)).where(
            self.waiting, lease.free(now), *conditions
        )
        times = [session.scalar(waiting)]
        if lease_ends:
            ending = select(func.min(lease.expires_at)).where(self.waiting, *conditions)
            times.append(session.scalar(ending.where(lease.owner.is_not(None))))
        return min((t for t in times if t is not None), default=None)

    def outcome_statement(
        self, values: Mapping[str, Any], *conditions: ColumnElement[bool]
    ) -> Update:
        """The UPDATE that records one row's outcome (its id bound as `ROW_ID`), sent for many
        rows at once by `record_all`; a leased row's lease ends with it."""
        table: Table = self.model.__table__
        ends_lease = {}
        if self.lease is not None:
            ends_lease = {self.lease.owner.key: None, self.lease.expires_at.key: None}
        return (
            update_statement(table)
            .where(table.c[self.id.key] == bindparam(ROW_ID), *conditions)
            .values(**values, **ends_lease)
        )

    def _lease(self) -> LeaseColumns:
        if self.lease is None:
            raise TypeError(f"{self.model.__name__} is leased elsewhere, not row by row")
        return self.lease


def record_all(session: Session, statement: Update, rows: Iterable[Mapping[str, Any]]) -> None:
    """Group commit: `statement` (an `outcome_statement`) for every row, in one round trip.

    On the session's connection: the statement touches no mapped object, and the ORM's
    bulk-update path around an executemany cost as much as the statement itself.
    """
    parameters = list(rows)
    if parameters:
        session.connection().execute(statement, parameters)

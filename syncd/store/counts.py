"""Rows counted by condition for each of a set of owners, in one grouped query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session


def counts_by_owner(
    session: Session,
    owner: InstrumentedAttribute[int],
    owner_ids: Sequence[int],
    conditions: Sequence[ColumnElement[bool]],
) -> dict[int, tuple[int, ...]]:
    """For each of `owner_ids`, how many of the rows `owner` points to it meet each of
    `conditions`, in their order; zeros for an owner with no rows."""
    counted: list[ColumnElement[Any]] = [func.count().filter(c) for c in conditions]
    query = select(owner, *counted).where(owner.in_(owner_ids)).group_by(owner)
    found = {row[0]: tuple(int(n) for n in row[1:]) for row in session.execute(query)}
    zeros = (0,) * len(conditions)
    return {owner_id: found.get(owner_id, zeros) for owner_id in owner_ids}

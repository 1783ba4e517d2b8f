"""`syncd check --online`: does every stored calendar binding name a calendar of its own
account? Bindings stored before calendar ids were checked may point at another host;
the worker refuses to reach them, and `check` names them so an operator can rebind."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from connectors import build_connector
from connectors.base import Connector
from syncd.errors import ConfigError
from syncd.store.db import create_db_engine
from syncd.store.models import CalendarBinding, Staff

_ROWS = select(Staff.key, CalendarBinding.key, CalendarBinding.connector,
               CalendarBinding.calendar_id).join(Staff, CalendarBinding.staff_id == Staff.id)


def binding_problems(database_url: str, tables: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per stored binding whose calendar id its connector refuses."""
    connectors = _built(tables)
    try:
        return [
            f"binding {binding!r} of staff {staff!r}: {problem}"
            for staff, binding, name, calendar_id in _stored(database_url)
            if name in connectors
            and (problem := connectors[name].calendar_id_problem(calendar_id)) is not None
        ]
    finally:
        asyncio.run(_close(connectors))


def _stored(database_url: str) -> list[tuple[str, str, str, str]]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(_ROWS)
            return [(staff, binding, name, calendar) for staff, binding, name, calendar in rows]
    except SQLAlchemyError:
        return []  # the database check reports it
    finally:
        engine.dispose()


def _built(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, Connector]:
    built = {}
    for name, table in tables.items():
        try:
            built[name] = build_connector(table)
        except ConfigError:
            continue  # the offline check reports it
    return built


async def _close(connectors: Mapping[str, Connector]) -> None:
    await asyncio.gather(*(c.aclose() for c in connectors.values()))

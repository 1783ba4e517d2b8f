"""`syncd check --online`: does every stored calendar binding name a calendar of its own
account, and is every calendar bound once? Bindings stored before calendar ids were
checked may point at another host; the worker refuses to reach them, and `check` names
them so an operator can rebind. Bindings stored before calendars were told apart by
where they live may bind one calendar twice (through a config connector and a stored
account), which writes every booking to it twice; `check` names those too."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connectors import build_connector
from connectors.base import Connector
from syncd.config.stored_accounts import identity_of
from syncd.errors import ConfigError
from syncd.store.accounts import settings_of
from syncd.store.db import create_db_engine
from syncd.store.models import CalendarBinding, ConnectorAccount, Merchant, Staff

T = TypeVar("T")

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


def twice_bound(database_url: str, tables: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per calendar that more than one active binding writes to."""
    holders: dict[str, list[str]] = defaultdict(list)
    for merchant, staff, binding, identity in _active_identities(database_url, tables):
        holders[identity].append(f"{merchant}/{staff}/{binding}")
    return [
        f"calendar {identity} is bound {len(names)} times ({', '.join(names)}): every booking "
        "is written to it once per binding; make all but one inactive"
        for identity, names in sorted(holders.items())
        if len(names) > 1
    ]


def _active_identities(
    database_url: str, tables: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, str, str]]:
    """(merchant, staff, binding, calendar identity) of each active binding whose calendar
    can be told: as stored, else worked out from its connector's table or stored account."""
    query = (
        select(Merchant.key, Staff.key, CalendarBinding, ConnectorAccount)
        .join(Staff, CalendarBinding.staff_id == Staff.id)
        .join(Merchant, Staff.merchant_id == Merchant.id)
        .outerjoin(ConnectorAccount, CalendarBinding.account_id == ConnectorAccount.id)
        .where(CalendarBinding.active.is_(True))
    )

    def identities(session: Session) -> list[tuple[str, str, str, str]]:
        found = []
        for merchant, staff, binding, account in session.execute(query):
            identity = binding.calendar_identity or _identity(binding, account, tables)
            if identity is not None:
                found.append((merchant, staff, binding.key, identity))
        return found

    return _read(database_url, identities)


def _identity(
    binding: CalendarBinding,
    account: ConnectorAccount | None,
    tables: Mapping[str, Mapping[str, Any]],
) -> str | None:
    if account is not None:
        return identity_of(settings_of(account), binding.calendar_id, tables, stored=True)
    table = tables.get(binding.connector)
    if table is None:
        return None
    return identity_of(table, binding.calendar_id, tables, stored=False)


def _stored(database_url: str) -> list[tuple[str, str, str, str]]:
    return _read(database_url, lambda session: [
        (staff, binding, name, calendar)
        for staff, binding, name, calendar in session.execute(_ROWS)
    ])


def _read(database_url: str, read: Callable[[Session], list[T]]) -> list[T]:
    """What `read` finds in the database; nothing when it cannot be reached (the
    database check reports that)."""
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as session:
            return read(session)
    except SQLAlchemyError:
        return []
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

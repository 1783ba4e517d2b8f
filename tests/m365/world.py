"""A syncd store and worker whose staff calendars are mailboxes on the Graph double."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors import build_connector
from connectors.base import Connector
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.models import CalendarBinding, Mirror
from syncd.store.schema import upgrade
from syncd.store.work import count_pending
from syncd.wiring import build_runtime
from syncd.worker import Worker
from tests import factories as f
from tests.graph import GraphDouble
from tests.m365.support import connector_table, new_mailbox

WORKER = {
    "sweep_interval_seconds": 0.5,
    "max_attempts": 6,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.5,
    "shutdown_timeout_seconds": 5,
    "calendars_in_parallel": 64,
}


@dataclass
class World:
    """Staff whose calendars are mailboxes of `double`, bound through named connectors."""

    double: GraphDouble
    runtime: Runtime
    tables: dict[str, dict[str, Any]]
    mailboxes: dict[str, str] = field(default_factory=dict)  # staff key -> mailbox

    def add_staff(self, keys: list[str], connector: str = "graph") -> None:
        with self.runtime.sessions.begin() as session:
            shop = f.merchant(session)
            f.service(session, shop)
            for key in keys:
                self.mailboxes[key] = new_mailbox(self.double)
                f.staff_with_calendar(session, shop, key, self.mailboxes[key], connector)

    def book(self, bookings: list[tuple[str, str, int]]) -> None:
        """(booking key, staff key, slot index) each, in one transaction."""
        with self.runtime.sessions.begin() as session:
            for key, staff, slot in bookings:
                f.book(session, key, staff, f.slot(slot))

    def pending(self) -> int:
        with self.runtime.sessions.begin() as session:
            return count_pending(session)

    def mirrors(self) -> list[Mirror]:
        with self.runtime.sessions.begin() as session:
            found = list(session.scalars(select(Mirror).order_by(Mirror.id)))
            session.expunge_all()
            return found

    def binding(self, staff: str) -> CalendarBinding:
        with self.runtime.sessions.begin() as session:
            binding = session.scalar(
                select(CalendarBinding).where(CalendarBinding.calendar_id == self.mailboxes[staff])
            )
            assert binding is not None
            session.expunge(binding)
            return binding

    def events(self, staff: str) -> list[dict[str, Any]]:
        return self.double.events(self.mailboxes[staff])

    def connectors(self) -> dict[str, Connector]:
        return {name: build_connector(table) for name, table in self.tables.items()}

    async def run_until(
        self,
        done: Callable[[], bool],
        timeout: float = 120,
        during: Callable[[], None] = lambda: None,
    ) -> None:
        """Run a worker until `done()`; `during()` is called on every poll (to act mid-run)."""
        connectors = self.connectors()
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(self.runtime, connectors).run(stop))
        try:
            async with asyncio.timeout(timeout):
                while not await asyncio.to_thread(done):
                    during()
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await worker
            for connector in connectors.values():
                await connector.aclose()

    def converged(self) -> bool:
        return self.pending() == 0


def make_world(
    double: GraphDouble,
    database_url: str,
    directory: Path,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    **worker: Any,
) -> World:
    """A migrated store; connector "graph" is the double's own app unless `tables` says else."""
    connector_tables = {
        name: connector_table(double, directory=directory, **dict(table))
        for name, table in (tables or {"graph": {}}).items()
    }
    settings = Settings.model_validate(
        {
            "database": {"url": database_url},
            "worker": {**WORKER, **worker},
            "connectors": connector_tables,
        }
    )
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return World(double, runtime, connector_tables)


"""What a running syncd process shares between its web handler, worker and CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from connectors import build_connector
from connectors.base import Connector
from syncd.config import Settings
from syncd.ops.connector_metrics import count_connector_reports
from syncd.store.db import create_db_engine
from syncd.store.session import SyncdSession, TransactionHooks
from syncd.wakeup import Waker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[SyncdSession]
    waker: Waker = field(default_factory=Waker)
    _connectors: dict[str, Connector] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, hooks: TransactionHooks) -> Runtime:
        """`hooks`: what the process plugs into its transactions (syncd.wiring builds a
        daemon's). Required: a runtime without its listeners would change bookings and
        silently tell nobody."""
        count_connector_reports()
        engine = create_db_engine(settings.database.url)
        sessions = sessionmaker(
            engine, class_=SyncdSession, expire_on_commit=False,
            hooks=hooks, manage=settings.manage,
        )
        runtime = cls(settings, engine, sessions)
        runtime.waker.watch(runtime.sessions)
        return runtime

    @property
    def connectors(self) -> dict[str, Connector]:
        """The configured calendar connectors, built on first use; the web and worker share them."""
        if self._connectors is None:
            self._connectors = {
                name: build_connector(table) for name, table in self.settings.connectors.items()
            }
        return self._connectors

    @connectors.setter
    def connectors(self, connectors: dict[str, Connector]) -> None:
        self._connectors = connectors

    async def aclose_connectors(self) -> None:
        connectors, self._connectors = self._connectors, None
        if connectors:
            await asyncio.gather(*(c.aclose() for c in connectors.values()))

    def close(self) -> None:
        self.engine.dispose()

"""What a running syncd process shares between its web handler, worker and CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors import build_connector
from connectors.base import Connector
from syncd.config import Settings
from syncd.manage.settings import SESSION_KEY as MANAGE_SETTINGS
from syncd.ops.connector_metrics import count_connector_reports
from syncd.store.db import create_db_engine, session_factory
from syncd.store.hooks import TransactionHooks, install
from syncd.wakeup import Waker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    waker: Waker = field(default_factory=Waker)
    _connectors: dict[str, Connector] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, hooks: TransactionHooks) -> Runtime:
        """`hooks`: what the process plugs into its transactions (syncd.wiring builds a
        daemon's). Required: a runtime without its listeners would change bookings and
        silently tell nobody."""
        count_connector_reports()
        engine = create_db_engine(settings.database.url)
        runtime = cls(settings, engine, session_factory(engine))
        # code deep inside a transaction (a message's manage link) reads its settings here
        runtime.sessions.configure(info={MANAGE_SETTINGS: settings.manage})
        install(runtime.sessions, hooks)
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

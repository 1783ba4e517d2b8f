"""What a running syncd process shares between its web handler, worker and CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from syncd.config import Settings
from syncd.connector_registry import ConnectorRegistry
from syncd.ops.connector_metrics import count_connector_reports
from syncd.store.accounts import ACCOUNTS_CHANGED
from syncd.store.db import create_db_engine
from syncd.store.session import SyncdSession, TransactionHooks
from syncd.wakeup import Waker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[SyncdSession]
    waker: Waker = field(default_factory=Waker)
    # woken by a commit that changed a stored account (this process's; others' by NOTIFY)
    account_waker: Waker = field(default_factory=Waker)
    _registry: ConnectorRegistry | None = field(default=None, repr=False)

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
        event.listen(sessions, "after_commit", runtime._after_commit)
        return runtime

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(ACCOUNTS_CHANGED, None):
            self.account_waker.wake()

    @property
    def connectors(self) -> ConnectorRegistry:
        """The calendar connectors (configured and stored accounts), built on first use;
        the web and worker share them."""
        if self._registry is None:
            self._registry = ConnectorRegistry(self.settings, self.sessions)
        return self._registry

    @connectors.setter
    def connectors(self, connectors: dict[str, Connector]) -> None:
        self.connectors.replace_configured(connectors)

    async def aclose_connectors(self) -> None:
        await self.connectors.aclose()

    def close(self) -> None:
        self.engine.dispose()

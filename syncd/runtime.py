"""What a running syncd process shares between its web handler, worker and CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syncd.config import Settings
from syncd.store.db import create_db_engine, session_factory
from syncd.wakeup import Waker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    waker: Waker = field(default_factory=Waker)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = create_db_engine(settings.database.url)
        runtime = cls(settings, engine, session_factory(engine))
        runtime.waker.watch(runtime.sessions)
        return runtime

    def close(self) -> None:
        self.engine.dispose()

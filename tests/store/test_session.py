"""A process's sessions carry its transaction hooks and manage settings, explicitly.

Nothing falls back: a session made without them cannot be made as a
SyncdSession, and a plain SQLAlchemy session that reaches code needing them
fails there, before the transaction commits anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from syncd.config import Settings
from syncd.config.manage import ManageSettings
from syncd.store.changes import BookingChange, ChangeKind
from syncd.store.db import create_db_engine, session_factory
from syncd.store.models import Booking
from syncd.store.schema import upgrade
from syncd.store.session import SyncdSession, TransactionHooks
from syncd.wiring import TRANSACTION_HOOKS, build_runtime
from tests import factories as f


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_process_session_cannot_be_made_without_its_hooks_and_settings(engine: Engine) -> None:
    with pytest.raises(TypeError, match="hooks"):
        SyncdSession(engine, manage=ManageSettings())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="manage"):
        SyncdSession(engine, hooks=TRANSACTION_HOOKS)  # type: ignore[call-arg]


def test_changing_a_booking_in_a_plain_session_fails_and_writes_nothing(engine: Engine) -> None:
    def book_in_one_transaction() -> None:
        with session_factory(engine).begin() as session:
            shop = f.merchant(session)
            f.service(session, shop)
            f.staff_with_calendar(session, shop, "alice", "/alice/")
            f.book(session, "b1", "alice", f.slot(0))

    with pytest.raises(AttributeError, match="hooks"):
        book_in_one_transaction()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_runtime_sessions_tell_the_listeners_it_was_given(database_url: str) -> None:
    told: list[tuple[ChangeKind, str]] = []

    def listen(session: SyncdSession, change: BookingChange) -> None:
        told.append((change.kind, change.booking.key))

    settings = Settings.model_validate(
        {"database": {"url": database_url}, "connectors": {"local": {"kind": "memory"}}}
    )
    runtime = build_runtime(settings)
    hooks = TransactionHooks(listeners=(listen,), manage_link=None)
    runtime.sessions.configure(hooks=hooks)
    try:
        with runtime.sessions.begin() as session:
            assert session.hooks is hooks
            assert session.manage is settings.manage
            shop = f.merchant(session)
            f.service(session, shop)
            f.staff_with_calendar(session, shop, "alice", "/alice/")
            f.book(session, "b1", "alice", f.slot(0))
            f.cancel(session, "b1")
    finally:
        runtime.close()
    assert told == [(ChangeKind.CREATED, "b1"), (ChangeKind.CANCELLED, "b1")]

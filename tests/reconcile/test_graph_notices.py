"""What a Graph notification does to the store: which calendars it wakes, what lifecycle events
record, and that only the right clientState counts (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from syncd.reconcile.graph_subscriptions import (
    GraphSubscription,
    Notice,
    hashed,
    record_subscription,
    take_in,
)
from syncd.reconcile.models import ReconcileState
from syncd.store.db import create_db_engine, session_factory
from syncd.store.mirrors import DIRTY_BINDINGS
from syncd.store.models import CalendarBinding
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from tests import factories as f
from tests.dbs import database_url

__all__ = ["database_url"]
SECRET = "the-client-state-of-anna"
CALENDARS = {  # staff key -> (connector, calendar id)
    "anna": ("graph", "Anna_B@contoso.test"),
    "anna-team": ("graph", "anna_b@contoso.test/AAMkTeam"),
    "annab": ("graph", "annaXb@contoso.test/AAMkOther"),  # `_` must not match any character
    "other-tenant": ("graph2", "anna_b@contoso.test"),
}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    made = session_factory(engine)
    with made.begin() as session:
        shop = f.merchant(session)
        for key, (connector, calendar_id) in CALENDARS.items():
            f.staff_with_calendar(session, shop, key, calendar_id, connector)
    yield made
    engine.dispose()


def binding_ids(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as session:
        rows = session.execute(select(CalendarBinding.calendar_id, CalendarBinding.id))
        return {str(calendar_id): int(binding_id) for calendar_id, binding_id in rows}


def subscribe(sessions: sessionmaker[Session], calendar_id: str, subscription_id: str) -> int:
    binding_id = binding_ids(sessions)[calendar_id]
    with sessions.begin() as session:
        record_subscription(session, binding_id, subscription_id,
                            utcnow() + timedelta(days=2), hashed(SECRET))
    return binding_id


def deliver(sessions: sessionmaker[Session], *notices: Notice) -> tuple[list[Notice], set[int]]:
    """The refused notices, and the bindings whose pass was asked for."""
    with sessions.begin() as session:
        refused = take_in(session, list(notices))
        return refused, set(session.info.get(DIRTY_BINDINGS, set()))


def test_a_notification_wakes_every_calendar_of_the_mailbox(
    sessions: sessionmaker[Session],
) -> None:
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    refused, woken = deliver(sessions, Notice("sub-1", SECRET))
    ids = binding_ids(sessions)
    assert refused == []
    assert woken == {ids["Anna_B@contoso.test"], ids["anna_b@contoso.test/AAMkTeam"]}
    with sessions.begin() as session:
        due = {s.binding_id for s in session.scalars(select(ReconcileState))
               if s.next_pass_at <= utcnow()}
    assert due == woken


@pytest.mark.parametrize("client_state", ["wrong", "", None, 42, SECRET.upper()])
def test_anything_but_the_client_state_is_refused(
    sessions: sessionmaker[Session], client_state: object
) -> None:
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    notice = Notice("sub-1", client_state, "subscriptionRemoved")
    refused, woken = deliver(sessions, notice, Notice("sub-unknown", SECRET), Notice("", None))
    assert len(refused) == 3
    assert woken == set()
    with sessions.begin() as session:
        assert session.scalars(select(ReconcileState)).all() == []
        kept = session.scalars(select(GraphSubscription)).one()
        assert kept.subscription_id == "sub-1"


def test_lifecycle_events_are_recorded_for_the_worker(sessions: sessionmaker[Session]) -> None:
    binding_id = subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    deliver(sessions, Notice("sub-1", SECRET, "missed"),
            Notice("sub-1", SECRET, "reauthorizationRequired"))
    with sessions.begin() as session:
        kept = session.get_one(GraphSubscription, binding_id)
        assert (kept.resync_wanted, kept.renew_wanted) == (True, True)
    refused, woken = deliver(sessions, Notice("sub-1", SECRET, "subscriptionRemoved"))
    assert (refused, binding_id in woken) == ([], True)
    with sessions.begin() as session:
        gone = session.get_one(GraphSubscription, binding_id)
        assert (gone.subscription_id, gone.client_state_hash, gone.expires_at) == (None, None, None)
    refused, _ = deliver(sessions, Notice("sub-1", SECRET))
    assert len(refused) == 1, "a removed subscription's notifications count no more"

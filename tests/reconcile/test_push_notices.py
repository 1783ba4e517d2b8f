"""What a pushed notice does to the store: which calendars it wakes (Graph's subscription covers
its mailbox), what notices about the subscription record, and that only the right client
state counts, for the connectors of the feed it came in by (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.m365.calendar import CalendarTarget
from connectors.push import NoticeKind, PushNotice
from syncd.connect.binding import bind
from syncd.reconcile.models import ReconcileState
from syncd.reconcile.push.notices import take_in
from syncd.reconcile.push.subscriptions import PushSubscription, hashed, record_subscription
from syncd.store.accounts import AccountChange, upsert_account
from syncd.store.db import create_db_engine, session_factory
from syncd.store.leases import assign_lease_keys
from syncd.store.mirrors import DIRTY_BINDINGS
from syncd.store.models import CalendarBinding, Staff
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
FEED_CONNECTORS = {"graph", "graph2"}  # the m365 connectors the notices came in for


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    made = session_factory(engine)
    with made.begin() as session:
        shop = f.merchant(session)
        for key, (connector, calendar_id) in CALENDARS.items():
            f.staff_with_calendar(session, shop, key, calendar_id, connector)
    with made.begin() as session:
        assign_lease_keys(session, worker_keys(session))
    yield made
    engine.dispose()


def worker_keys(session: Session) -> dict[int, str]:
    """The lease keys a worker gives the bindings: the connector's name and the mailbox."""
    rows = session.execute(select(CalendarBinding.id, CalendarBinding.connector,
                                  CalendarBinding.calendar_id))
    return {binding_id: f"{connector}:mailbox:{CalendarTarget.parse(calendar_id).mailbox_key}"
            for binding_id, connector, calendar_id in rows}


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


def deliver(
    sessions: sessionmaker[Session], *notices: PushNotice, connectors: set[str] = FEED_CONNECTORS
) -> tuple[list[PushNotice], set[int]]:
    """The refused notices, and the bindings whose pass was asked for."""
    with sessions.begin() as session:
        refused = take_in(session, list(notices), connectors)
        return refused, set(session.info.get(DIRTY_BINDINGS, set()))


def test_a_notification_wakes_every_calendar_of_the_mailbox(
    sessions: sessionmaker[Session],
) -> None:
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    refused, woken = deliver(sessions, PushNotice("sub-1", SECRET))
    ids = binding_ids(sessions)
    assert refused == []
    assert woken == {ids["Anna_B@contoso.test"], ids["anna_b@contoso.test/AAMkTeam"]}
    with sessions.begin() as session:
        due = {s.binding_id for s in session.scalars(select(ReconcileState))
               if s.next_pass_at <= utcnow()}
    assert due == woken


@pytest.mark.parametrize("client_state", ["wrong", "", None, SECRET.upper()])
def test_anything_but_the_client_state_is_refused(
    sessions: sessionmaker[Session], client_state: str | None
) -> None:
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    notice = PushNotice("sub-1", client_state, NoticeKind.REMOVED)
    refused, woken = deliver(sessions, notice, PushNotice("sub-unknown", SECRET),
                             PushNotice("", None))
    assert len(refused) == 3
    assert woken == set()
    with sessions.begin() as session:
        assert session.scalars(select(ReconcileState)).all() == []
        kept = session.scalars(select(PushSubscription)).one()
        assert kept.subscription_id == "sub-1"


def test_a_binding_no_worker_keyed_yet_is_woken_alone(sessions: sessionmaker[Session]) -> None:
    ids = binding_ids(sessions)
    with sessions.begin() as session:
        session.get_one(CalendarBinding, ids["Anna_B@contoso.test"]).lease_key = None
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    refused, woken = deliver(sessions, PushNotice("sub-1", SECRET))
    assert (refused, woken) == ([], {ids["Anna_B@contoso.test"]})


def test_a_feed_speaks_only_for_its_own_connectors(sessions: sessionmaker[Session]) -> None:
    subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    refused, woken = deliver(sessions, PushNotice("sub-1", SECRET), connectors={"graph2"})
    assert (len(refused), woken) == (1, set())


def test_lifecycle_events_are_recorded_for_the_worker(sessions: sessionmaker[Session]) -> None:
    binding_id = subscribe(sessions, "Anna_B@contoso.test", "sub-1")
    deliver(sessions, PushNotice("sub-1", SECRET, NoticeKind.MISSED),
            PushNotice("sub-1", SECRET, NoticeKind.REAUTHORIZE))
    with sessions.begin() as session:
        kept = session.get_one(PushSubscription, binding_id)
        assert (kept.resync_wanted, kept.renew_wanted) == (True, True)
    refused, woken = deliver(sessions, PushNotice("sub-1", SECRET, NoticeKind.REMOVED))
    assert (refused, binding_id in woken) == ([], True)
    with sessions.begin() as session:
        gone = session.get_one(PushSubscription, binding_id)
        assert (gone.subscription_id, gone.client_state_hash, gone.expires_at) == (None, None, None)
    refused, _ = deliver(sessions, PushNotice("sub-1", SECRET))
    assert len(refused) == 1, "a removed subscription's notifications count no more"


def stored_account_binding(sessions: sessionmaker[Session], kind: str, staff_key: str) -> int:
    """A binding of `staff_key`'s on an account stored as data (`account.<id>`) of `kind`."""
    with sessions.begin() as session:
        shop = f.merchant(session)
        change = AccountChange(kind, {"kind": kind}, None)
        account, _ = upsert_account(session, shop, f"{kind}-account", change)
        staff = session.scalars(select(Staff).where(Staff.key == staff_key)).one()
        return bind(session, staff, account, f"{kind}-calendar").id


def test_a_feed_speaks_for_the_stored_accounts_of_its_kind(
    sessions: sessionmaker[Session],
) -> None:
    m365 = stored_account_binding(sessions, "m365", "anna")
    caldav = stored_account_binding(sessions, "caldav", "annab")
    subscribe(sessions, "m365-calendar", "sub-m365")
    subscribe(sessions, "caldav-calendar", "sub-caldav")
    with sessions.begin() as session:
        refused = take_in(session, [PushNotice("sub-m365", SECRET),
                                    PushNotice("sub-caldav", SECRET)], set(), "m365")
        woken = set(session.info.get(DIRTY_BINDINGS, set()))
    assert ([n.subscription_id for n in refused], woken) == (["sub-caldav"], {m365})
    assert caldav not in woken
    refused, _ = deliver(sessions, PushNotice("sub-m365", SECRET))  # no kind: names only
    assert len(refused) == 1

"""Connecting a chosen calendar: an account of the merchant's with the secret sealed, a
binding whose bookings become pending at once; disconnecting stops the syncing and leaves
the events; connecting again finds them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syncd.connect import binding as connecting
from syncd.connect.drafts import CalendarOption, Draft, keep_draft, open_draft
from syncd.connect.views import link_view, open_link
from syncd.errors import Conflict, InputError, NotFound
from syncd.runtime import Runtime
from syncd.store.connect_tokens import ConnectToken
from syncd.store.models import AccountState, CalendarBinding, ConnectorAccount, Mirror
from syncd.store.sealing import Sealer, new_key
from tests.connect.shop import link_for, seed

PASSWORD = "an-app-specific-password"
SEAL = Sealer([new_key()])


def draft() -> Draft:
    settings = {"kind": "caldav", "url": "https://dav.example/alice/", "username": "alice"}
    calendars = (CalendarOption("/alice/work/", "Work"),
                 CalendarOption("/alice/chores/", "Chores", None, False, "tasks only"))
    return Draft("caldav", settings, PASSWORD, None, calendars)


def connect(runtime: Runtime, token: str, calendar: str = "/alice/work/",
            chosen: Draft | None = None) -> str:
    with runtime.sessions.begin() as session:
        link = open_link(session, token, datetime.now(UTC), lock=True)
        keep_draft(session, link, chosen or draft(), SEAL, datetime.now(UTC))
        found = open_draft(link, SEAL, datetime.now(UTC), 30)
        assert found is not None
        return connecting.connect(session, link, found, calendar, SEAL).key


def mirrors(runtime: Runtime) -> list[Mirror]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(Mirror)))


@pytest.fixture
def token(runtime: Runtime) -> str:
    seed(runtime)
    return link_for(runtime)


def test_connecting_stores_a_sealed_account_and_makes_the_bookings_pending(
    runtime: Runtime, token: str
) -> None:
    key = connect(runtime, token)
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        assert account.kind == "caldav"
        assert account.staff_id is not None
        assert PASSWORD not in (account.credential or "")
        assert SEAL.open(account.credential or "") == PASSWORD
        binding = session.scalars(select(CalendarBinding)).one()
        assert (binding.key, binding.active, binding.account_id) == (key, True, account.id)
        assert binding.connector == f"account.{account.id}"
        assert session.scalars(select(ConnectToken)).one().draft is None
        view = link_view(session, open_link(session, token, datetime.now(UTC)))
    assert [(m.desired, m.pending) for m in mirrors(runtime)] == [("present", True)] * 2
    (shown,) = view.connections
    assert (shown.calendar, shown.account, shown.state) == ("work", "alice on dav.example", "ok")


def test_disconnecting_stops_syncing_and_connecting_again_looks_before_writing(
    runtime: Runtime, token: str
) -> None:
    key = connect(runtime, token)
    with runtime.sessions.begin() as session:
        connecting.disconnect(session, open_link(session, token, datetime.now(UTC)), key)
    assert mirrors(runtime) == []
    with runtime.sessions.begin() as session:
        assert link_view(session, open_link(session, token, datetime.now(UTC))).connections == ()
        with pytest.raises(NotFound):
            connecting.disconnect(session, open_link(session, token, datetime.now(UTC)), key)
    assert connect(runtime, token) == key
    assert [(m.pending, m.remote_may_exist) for m in mirrors(runtime)] == [(True, True)] * 2


def test_connecting_another_calendar_replaces_the_first(runtime: Runtime, token: str) -> None:
    first = connect(runtime, token)
    settings = {"kind": "caldav", "url": "https://other.example/ana/", "username": "ana"}
    other = Draft("caldav", settings, PASSWORD, None, (CalendarOption("/ana/home/", "Home"),))
    second = connect(runtime, token, "/ana/home/", other)
    assert first != second
    with runtime.sessions.begin() as session:
        active = session.scalars(select(CalendarBinding).where(CalendarBinding.active)).all()
        assert [b.key for b in active] == [second]
        assert len(session.scalars(select(ConnectorAccount)).all()) == 2


def test_only_a_calendar_offered_and_usable_can_be_chosen(runtime: Runtime, token: str) -> None:
    for calendar in ("/alice/chores/", "/alice/elsewhere/"):
        with pytest.raises(InputError):
            connect(runtime, token, calendar)
    assert mirrors(runtime) == []


def test_one_calendar_is_not_connected_for_two_people(runtime: Runtime, token: str) -> None:
    connect(runtime, token)
    # bob's login to alice's server is another account: the same calendar is refused only
    # where it is the same account's
    bob = link_for(runtime, "bob")
    with runtime.sessions.begin() as session:
        alice_account = session.scalars(select(ConnectorAccount)).one()
        link = open_link(session, bob, datetime.now(UTC))
        with pytest.raises(Conflict):
            connecting.bind(session, link.staff, alice_account, "/alice/work/")


def test_a_draft_is_kept_for_a_while_only(runtime: Runtime, token: str) -> None:
    now = datetime.now(UTC)
    with runtime.sessions.begin() as session:
        link = open_link(session, token, now, lock=True)
        keep_draft(session, link, draft(), SEAL, now)
        assert open_draft(link, SEAL, now + timedelta(minutes=29), 30) == draft()
        assert open_draft(link, SEAL, now + timedelta(minutes=31), 30) is None
        assert PASSWORD not in (link.draft or "")


def test_reconnecting_replaces_the_password_and_clears_the_auth_error(
    runtime: Runtime, token: str
) -> None:
    key = connect(runtime, token)
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        account.state, account.auth_error_notified = AccountState.AUTH_ERROR, True
        version = account.version
    renewed = Draft("caldav", draft().settings, "a-new-app-password", None, draft().calendars)
    assert connect(runtime, token, chosen=renewed) == key
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()  # the same account
        assert (account.state, account.auth_error_notified) == (AccountState.OK, False)
        assert SEAL.open(account.credential or "") == "a-new-app-password"
        assert account.version > version  # every process rebuilds its connector

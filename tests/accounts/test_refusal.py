"""What the worker records when a calendar's credentials are refused (syncd/worker/refused.py),
in the store (SQLite and PostgreSQL): one `binding.auth_error` per transition, for a
configured connector's calendar too; the notice of a stored account once until it has
worked or was reconnected; a reconnect clears the calendar's auth error and its pause."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syncd.config import Settings
from syncd.notify.models import OutboxMessage
from syncd.runtime import Runtime
from syncd.store import accounts, leases, work
from syncd.store.models import AccountState, BindingState, CalendarBinding, ConnectorAccount, Staff
from syncd.store.schema import upgrade
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow
from syncd.webhooks.models import WebhookDelivery, WebhookSubscription
from syncd.wiring import build_runtime
from syncd.worker.refused import Refusal, record_refusal
from tests import factories as f

ERROR = "AuthError: PUT /alice/work/x.ics: HTTP 401"


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    runtime = build(database_url)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.staff_with_calendar(session, shop, "alice", "/alice/work/", "dav")
        session.scalars(select(Staff)).one().email = "alice@acme.example"
        now = utcnow()
        session.add(WebhookSubscription(
            merchant_id=shop.id, key="platform", url="https://hooks.example.com/",
            event_types=["binding.auth_error"], secret="whsec_x", enabled=True,
            created_at=now, updated_at=now))
    yield runtime
    runtime.close()


def build(database_url: str) -> Runtime:
    return build_runtime(Settings.model_validate({"database": {"url": database_url}}))


def refuse(runtime: Runtime, kind: str = "caldav") -> None:
    with runtime.sessions.begin() as session:
        binding_id = session.scalars(select(CalendarBinding.id)).one()
        until = utcnow() + timedelta(minutes=5)
        record_refusal(session, Refusal(binding_id, until, ERROR, kind, 7.0))


def count(runtime: Runtime, model: type[WebhookDelivery] | type[OutboxMessage]) -> int:
    with runtime.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def binding(session: SyncdSession) -> CalendarBinding:
    return session.scalars(select(CalendarBinding)).one()


def on_an_account(runtime: Runtime, sealed: str = "sealed-1") -> None:
    with runtime.sessions.begin() as session:
        staff = session.scalars(select(Staff)).one()
        change = accounts.AccountChange("caldav", {"url": "https://dav.example/"}, sealed,
                                        staff)
        account, _ = accounts.upsert_account(session, f.merchant(session), "alice-dav", change)
        binding(session).account_id = account.id
        binding(session).connector = accounts.registry_name(account.id)


def test_a_configured_calendar_refused_again_queues_one_event_until_it_has_worked(
    runtime: Runtime,
) -> None:
    refuse(runtime)
    refuse(runtime)
    with runtime.sessions.begin() as session:
        (delivery,) = session.scalars(select(WebhookDelivery))
        assert '"connector":"dav","account":null' in delivery.body
        assert "HTTP 401" not in delivery.body  # words of syncd's, not the server's answer
        work.mark_binding_healthy(session, binding(session).id)  # before a reconcile pass
        assert (binding(session).state, binding(session).consecutive_failures) == (
            BindingState.AUTH_ERROR, 0)
    refuse(runtime)
    assert count(runtime, WebhookDelivery) == 1
    with runtime.sessions.begin() as session:
        binding(session).lease_owner = "w1"
    with runtime.sessions.begin() as session:
        leases.release_leases(session, [leases.Release(binding(session).id, "w1", heal=True)])
        assert binding(session).state == BindingState.OK
    refuse(runtime)
    assert count(runtime, WebhookDelivery) == 2
    assert count(runtime, OutboxMessage) == 0  # a configured connector has nobody to tell


def test_an_account_is_told_once_and_again_after_a_reconnect(runtime: Runtime) -> None:
    on_an_account(runtime)
    refuse(runtime)
    refuse(runtime)
    with runtime.sessions.begin() as session:
        (mail,) = session.scalars(select(OutboxMessage))
        assert (mail.kind, mail.to_address) == ("auth_error_notice", "alice@acme.example")
        assert mail.manage_link is None  # no public URL: no link, the mail says whom to ask
        account = session.scalars(select(ConnectorAccount)).one()
        assert (account.state, account.last_error, account.auth_error_notified) == (
            AccountState.AUTH_ERROR, ERROR, True)
    on_an_account(runtime, "sealed-2")  # a new password
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        assert (account.state, account.auth_error_notified) == (AccountState.OK, False)
        assert (binding(session).state, binding(session).paused_until) == (BindingState.OK, None)
    refuse(runtime)
    assert count(runtime, OutboxMessage) == 2
    assert count(runtime, WebhookDelivery) == 2


def test_an_account_whose_calendar_worked_again_is_re_armed(runtime: Runtime) -> None:
    on_an_account(runtime)
    refuse(runtime)
    with runtime.sessions.begin() as session:
        binding(session).lease_owner = "w1"
    with runtime.sessions.begin() as session:
        leases.release_leases(session, [leases.Release(binding(session).id, "w1", heal=True)])
        account = session.scalars(select(ConnectorAccount)).one()
        assert (account.state, account.last_error, account.auth_error_notified) == (
            AccountState.OK, None, False)
    refuse(runtime)
    assert count(runtime, OutboxMessage) == 2

"""Change notifications for Microsoft 365 accounts stored as data (`account.<id>`): the worker
subscribes a consented organisation's mailbox (`users/<upn>/events`) and a signed-in user's
(`me/events`) at /push/m365, the Graph double validates syncd's real web handler and
notifies it, and the notice wakes that account's calendar. A notice for an account deleted
since is answered (202) and wakes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from syncd.config import Settings
from syncd.connect.binding import bind
from syncd.reconcile.models import ReconcileState
from syncd.reconcile.push.subscriptions import PushSubscription
from syncd.runtime import Runtime
from syncd.store import accounts
from syncd.store.models import CalendarBinding, Staff
from syncd.store.sealing import Sealer, new_key
from syncd.timeutil import utcnow
from syncd.worker import Worker
from tests import factories as f
from tests.dbs import database_url
from tests.graph import GraphDouble
from tests.m365.signin_support import add_staff, app_table, sign_in
from tests.reconcile.graph_web import SyncdWeb
from tests.reconcile.shop import migrated
from tests.servers import free_port

__all__ = ["database_url"]
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
KEY = new_key()


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture
def table(double: GraphDouble, tmp_path: Path) -> dict[str, Any]:
    return app_table(double, tmp_path)


@pytest.fixture
def web(database_url: str, table: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, str]]:
    monkeypatch.setenv("TEST_PUSH_KEYS", KEY)
    port = free_port()
    settings = Settings.model_validate({
        "database": {"url": database_url},
        "keys": {"encryption_keys_env": "TEST_PUSH_KEYS"},
        "worker": {"sweep_interval_seconds": 0.2, "shutdown_timeout_seconds": 2},
        "reconcile": {"interval_seconds": 3600,
                      "graph": {"public_url": f"http://127.0.0.1:{port}"}},
        "connectors": {"ms": table},  # the app registration: the accounts name it
    })
    runtime = migrated(settings)
    with SyncdWeb(runtime, port) as running:
        yield runtime, running.url
    runtime.close()


def store_account(
    runtime: Runtime, key: str, own: dict[str, Any], secret: str | None, calendar_id: str = "me"
) -> int:
    """An account as the connect page stores it (its own fields), its calendar bound."""
    sealed = None if secret is None else Sealer([KEY]).seal(secret)
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        change = accounts.AccountChange("m365", {"kind": "m365", "app": "ms", **own}, sealed)
        account, _ = accounts.upsert_account(session, shop, key, change)
        staff = Staff(merchant_id=shop.id, key=key, name=key, timezone="Europe/Berlin")
        session.add(staff)
        session.flush()
        return bind(session, staff, account, calendar_id).id


async def subscribed(runtime: Runtime, binding_ids: list[int]) -> dict[int, PushSubscription]:
    """Run a worker until every binding's subscription is made; the rows."""
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(runtime, runtime.connectors).run(stop))
    try:
        async with asyncio.timeout(60):
            while len(rows := _rows(runtime, binding_ids)) < len(binding_ids):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return rows


def _rows(runtime: Runtime, binding_ids: list[int]) -> dict[int, PushSubscription]:
    with runtime.sessions.begin() as session:
        query = select(PushSubscription).where(PushSubscription.binding_id.in_(binding_ids),
                                               PushSubscription.subscription_id.is_not(None))
        found = {row.binding_id: row for row in session.scalars(query)}
        session.expunge_all()
        return found


def next_pass(runtime: Runtime, binding_id: int) -> datetime:
    with runtime.sessions.begin() as session:
        return session.get_one(ReconcileState, binding_id).next_pass_at


def changed_in_outlook(double: GraphDouble, mailbox: str) -> list[Any]:
    """Staff add an event in Outlook; the change notifications the double delivered."""
    start = datetime.now().replace(microsecond=0) + timedelta(days=3)
    double.add_foreign_event(mailbox, f"Dentist {uuid.uuid4().hex[:6]}", start,
                             start + timedelta(hours=1))
    return double.deliver_notifications()


async def test_stored_accounts_are_subscribed_and_their_notices_wake_them(
    web: tuple[Runtime, str], double: GraphDouble, table: dict[str, Any]
) -> None:
    runtime, url = web
    mailbox = add_staff(double)  # of the app's home tenant: its organisation consented
    organisation = store_account(runtime, "contoso", {"tenant_id": double.tenant_id}, None,
                                 calendar_id=mailbox)
    person = add_staff(double)
    signed_in = await sign_in(double, table, person)
    delegated = store_account(runtime, "dana", {
        "tenant_id": signed_in.tenant_id, "sign_in": "delegated", "user": signed_in.user,
    }, signed_in.token_cache)
    rows = await subscribed(runtime, [organisation, delegated])
    live = {s["id"]: s for s in double.subscriptions()}
    resources = {b: live[str(r.subscription_id)]["resource"] for b, r in rows.items()}
    assert resources == {organisation: f"users/{mailbox}/events", delegated: "me/events"}
    assert {live[str(r.subscription_id)]["notificationUrl"] for r in rows.values()} == {
        f"{url}/push/m365/notifications"}
    for binding_id, box in ((organisation, mailbox), (delegated, person)):
        before = next_pass(runtime, binding_id)
        assert before > utcnow() + timedelta(minutes=30)  # polled hourly: only a notice wakes it
        deliveries = changed_in_outlook(double, box)
        assert [d.status for d in deliveries] == [202]
        assert next_pass(runtime, binding_id) <= utcnow()


async def test_a_notice_for_an_account_deleted_since_is_answered_and_ignored(
    web: tuple[Runtime, str], double: GraphDouble, table: dict[str, Any]
) -> None:
    runtime, _ = web
    person = add_staff(double)
    signed_in = await sign_in(double, table, person)
    binding_id = store_account(runtime, "dana", {
        "tenant_id": signed_in.tenant_id, "sign_in": "delegated", "user": signed_in.user,
    }, signed_in.token_cache)
    await subscribed(runtime, [binding_id])
    with runtime.sessions.begin() as session:
        session.get_one(CalendarBinding, binding_id).active = False
        shop = f.merchant(session)
        accounts.delete_account(session, accounts.get_account(session, shop, "dana"))
    before = next_pass(runtime, binding_id)
    deliveries = changed_in_outlook(double, person)
    assert [d.status for d in deliveries] == [202]  # Graph wants its 2xx
    assert next_pass(runtime, binding_id) == before
    with runtime.sessions.begin() as session:
        row = session.get_one(PushSubscription, binding_id)
        assert row.subscription_id is not None  # nothing recorded either

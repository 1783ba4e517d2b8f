"""The push capability is the same for any connector kind: a made-up service whose feed reads
one notice per line gets its route at /push/<kind>/..., its notices checked and acted on, and
its calendars' subscriptions kept by the worker's upkeep (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.errors import PermanentError
from connectors.m365 import PUSH_FEED
from connectors.memory import MemoryCalendar
from connectors.push import (
    BadPushBodyError,
    ChangeSubscriptions,
    Endpoints,
    Handshake,
    PushFeed,
    PushNotice,
    Subscription,
)
from syncd.api import create_app
from syncd.config import load_config
from syncd.reconcile.models import ReconcileState
from syncd.reconcile.push import endpoint, upkeep
from syncd.reconcile.push.subscriptions import PushSubscription, hashed, record_subscription
from syncd.reconcile.push.upkeep import PushUpkeep
from syncd.runtime import Runtime
from syncd.store.dbthread import DatabaseThreads
from syncd.store.models import CalendarBinding
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.api.client import ApiClient
from tests.dbs import database_url

__all__ = ["database_url"]
pytestmark = pytest.mark.anyio
SECRET = "the-client-state-of-anna"
PUBLIC_URL = "https://syncd.example.com"


class LineFeed(PushFeed):
    """A made-up service: `<subscription id> <client state>` per line; `?hello=` checks us."""

    max_body_bytes = 1024

    def handshake(self, query: Mapping[str, str]) -> Handshake | None:
        hello = query.get("hello")
        return None if hello is None else Handshake(200, hello[::-1])

    def read(self, body: bytes) -> list[PushNotice]:
        try:
            lines = body.decode().splitlines()
        except UnicodeDecodeError:
            raise BadPushBodyError("not UTF-8") from None
        notices = []
        for line in lines:
            subscription_id, _, client_state = line.partition(" ")
            notices.append(PushNotice(subscription_id, client_state or None))
        return notices


@dataclass
class Subscriptions(ChangeSubscriptions):
    refuse: bool = False
    made: list[tuple[Endpoints, str]] = field(default_factory=list)

    async def create(
        self, endpoints: Endpoints, client_state: str, expires: datetime
    ) -> Subscription:
        if self.refuse:
            raise PermanentError("the endpoint did not answer the handshake")
        self.made.append((endpoints, client_state))
        return Subscription(f"sub-{len(self.made)}", expires)

    async def renew(self, subscription_id: str, expires: datetime) -> Subscription:
        return Subscription(subscription_id, expires)

    async def delete(self, subscription_id: str) -> None:
        return None


class PushingCalendar(MemoryCalendar):
    def __init__(self, subscriptions: Subscriptions) -> None:
        super().__init__("/cal/anna/")
        self.subscriptions = subscriptions

    def change_subscriptions(self) -> Subscriptions:
        return self.subscriptions


@pytest.fixture
def runtime(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A store with one binding on a "memory" connector, whose kind now has a feed."""
    feeds = {"memory": LineFeed(), "m365": PUSH_FEED}
    monkeypatch.setattr(endpoint, "push_feeds", lambda: feeds)
    monkeypatch.setattr(upkeep, "push_feed", feeds.get)
    monkeypatch.setenv("SYNCD_TEST_KEY", "k" * 32)
    environ = {"SYNCD_DATABASE__URL": database_url, "SYNCD_API__KEY_ENV": "SYNCD_TEST_KEY",
               "SYNCD_CONNECTORS__LOCAL__KIND": "memory",
               "SYNCD_RECONCILE__GRAPH__PUBLIC_URL": PUBLIC_URL}
    made = build_runtime(load_config(None, environ=environ))
    upgrade(made.engine)
    with made.sessions.begin() as session:
        f.staff_with_calendar(session, f.merchant(session), "anna", "/cal/anna/", "local")
    yield made
    made.close()


def binding_id(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return session.scalars(select(CalendarBinding.id)).one()


def due(runtime: Runtime) -> bool:
    with runtime.sessions.begin() as session:
        state = session.get(ReconcileState, binding_id(runtime))
        return state is not None and state.next_pass_at <= utcnow()


def test_its_feed_is_served_and_its_notices_wake_the_calendar(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        record_subscription(session, binding_id(runtime), "sub-1",
                            utcnow() + timedelta(days=1), hashed(SECRET))
    with ApiClient(create_app(runtime)) as client:
        hello = client.post("/push/memory/notifications", params={"hello": "abc"})
        assert (hello.status_code, hello.text) == (200, "cba")
        assert client.post("/push/memory/lifecycle", content=b"sub-1 wrong").status_code == 403
        assert client.post("/push/memory/notifications", content=b"\xff").status_code == 400
        assert client.post("/push/memory/notifications", content=b"x" * 1025).status_code == 413
        assert not due(runtime)
        answer = client.post("/push/memory/notifications", content=f"sub-1 {SECRET}".encode())
        assert answer.status_code == 202
        assert due(runtime)
        for unconfigured in ("/push/m365/notifications", "/graph/notifications"):
            assert client.post(unconfigured, content=b"sub-1 x").status_code == 404


async def test_the_upkeep_subscribes_its_calendars_at_its_route(runtime: Runtime) -> None:
    subscriptions = Subscriptions()
    db = DatabaseThreads(runtime.sessions)
    try:
        await PushUpkeep(db, runtime.settings.reconcile.push)(
            PushingCalendar(subscriptions), binding_id(runtime), "memory")
        ((endpoints, client_state),) = subscriptions.made
        assert endpoints == Endpoints(f"{PUBLIC_URL}/push/memory/notifications",
                                      f"{PUBLIC_URL}/push/memory/lifecycle")
        with runtime.sessions.begin() as session:
            row = session.get_one(PushSubscription, binding_id(runtime))
            assert (row.subscription_id, row.client_state_hash) == ("sub-1", hashed(client_state))
    finally:
        db.close()


async def test_a_refused_subscription_waits_and_polling_goes_on(runtime: Runtime) -> None:
    db = DatabaseThreads(runtime.sessions)
    try:
        await PushUpkeep(db, runtime.settings.reconcile.push)(
            PushingCalendar(Subscriptions(refuse=True)), binding_id(runtime), "memory")
        with runtime.sessions.begin() as session:
            row = session.get_one(PushSubscription, binding_id(runtime))
            assert (row.subscription_id, row.failures) == (None, 1)
            assert row.last_error == "PermanentError: the endpoint did not answer the handshake"
            assert row.next_attempt_at is not None
            assert row.next_attempt_at > utcnow() + timedelta(minutes=4)
    finally:
        db.close()

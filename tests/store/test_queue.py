"""The durable queue every sender works (syncd/store/queue.py), on the mail outbox's table:
claims skip locked and held rows, leases expire and beat, next-due sees both kinds of wait."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.config import Settings
from syncd.notify.models import OutboxMessage, OutboxState
from syncd.notify.queue import MAIL
from syncd.runtime import Runtime
from syncd.store.queue import LeaseColumns
from syncd.store.schema import upgrade
from syncd.timeutil import utcnow
from syncd.wiring import build_runtime
from tests import factories as f
from tests.dbs import database_url, postgres_schema_url

__all__ = ["database_url"]  # the fixture, on each backend in turn

LEASE = LeaseColumns(OutboxMessage, OutboxMessage.claimed_by, OutboxMessage.claim_expires_at)


@contextmanager
def _runtime_on(url: str) -> Iterator[Runtime]:
    settings = Settings.model_validate(
        {"database": {"url": url}, "connectors": {"local": {"kind": "memory"}}}
    )
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    with _runtime_on(database_url) as found:
        yield found


@pytest.fixture
def postgres_runtime() -> Iterator[Runtime]:
    """SKIP LOCKED is PostgreSQL's: SQLite runs one writer at a time, so no claim overlaps."""
    with postgres_schema_url() as url, _runtime_on(url) as found:
        yield found


def add_rows(runtime: Runtime, due: list[datetime]) -> list[int]:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        rows = [_message(shop.id, at) for at in due]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _message(merchant_id: int, due: datetime) -> OutboxMessage:
    return OutboxMessage(
        merchant_id=merchant_id, kind="notice", audience="merchant", to_address="a@example.org",
        to_name="A", timezone="UTC", payload={}, state=OutboxState.QUEUED, attempts=0,
        next_attempt_at=due, queued_at=due,
    )


def claim(session: Session, owner: str, now: datetime, limit: int = 10) -> list[int]:
    query = select(OutboxMessage.id).order_by(OutboxMessage.id).limit(limit)
    rows = MAIL.claim(session, query, owner, now + timedelta(seconds=60), now)
    return [row.id for row in rows]


def test_a_claim_takes_due_rows_once_and_an_expired_lease_passes_on(runtime: Runtime) -> None:
    now = utcnow()
    due, _later = add_rows(runtime, [now - timedelta(seconds=1), now + timedelta(hours=1)])
    with runtime.sessions.begin() as session:
        assert claim(session, "a", now) == [due]
    with runtime.sessions.begin() as session:
        assert claim(session, "b", now) == []  # a's lease holds
    with runtime.sessions.begin() as session:
        assert claim(session, "b", now + timedelta(seconds=61)) == [due]  # a's ran out
        holder = session.get(OutboxMessage, due)
        assert holder is not None
        assert holder.claimed_by == "b"


def test_a_row_another_sender_is_claiming_is_skipped_not_waited_for(
    postgres_runtime: Runtime,
) -> None:
    runtime = postgres_runtime
    now = utcnow()
    first, second = add_rows(runtime, [now - timedelta(seconds=2), now - timedelta(seconds=1)])
    with runtime.sessions.begin() as holding:
        assert claim(holding, "a", now, limit=1) == [first]  # locked until this commits
        with runtime.sessions.begin() as other:
            assert claim(other, "b", now) == [second]


def test_the_heartbeat_and_the_release_touch_only_the_owners_rows(runtime: Runtime) -> None:
    now = utcnow()
    mine, theirs = add_rows(runtime, [now - timedelta(seconds=2), now - timedelta(seconds=1)])
    with runtime.sessions.begin() as session:
        assert claim(session, "a", now, limit=1) == [mine]
        assert claim(session, "b", now, limit=1) == [theirs]
    later = now + timedelta(minutes=10)
    with runtime.sessions.begin() as session:
        ids = OutboxMessage.id.in_([mine, theirs])
        assert LEASE.extend(session, later, ids, OutboxMessage.claimed_by == "a") == 1
    with runtime.sessions.begin() as session:
        assert lease_ends(session, mine) == later
        assert lease_ends(session, theirs) == now + timedelta(seconds=60)
        LEASE.release(session, "a")
    with runtime.sessions.begin() as session:
        assert lease_ends(session, mine) is None
        assert lease_ends(session, theirs) is not None
        LEASE.release(session)
    with runtime.sessions.begin() as session:
        assert lease_ends(session, theirs) is None


def lease_ends(session: Session, outbox_id: int) -> datetime | None:
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None
    return row.claim_expires_at


def test_next_due_is_the_earliest_free_row_or_the_end_of_a_lease(runtime: Runtime) -> None:
    now = utcnow()
    held, _waiting = add_rows(runtime, [now - timedelta(seconds=1), now + timedelta(hours=1)])
    with runtime.sessions.begin() as session:
        assert MAIL.next_due_time(session, now) == now - timedelta(seconds=1)
        assert claim(session, "a", now) == [held]
    with runtime.sessions.begin() as session:
        lease_end = now + timedelta(seconds=60)  # before the waiting row's hour
        assert MAIL.next_due_time(session, now) == lease_end
        assert MAIL.next_due_time(session, now, lease_ends=False) == now + timedelta(hours=1)

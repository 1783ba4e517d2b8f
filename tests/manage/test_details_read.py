"""The details page's one-statement read, on SQLite and PostgreSQL: the same values Core
gives, read in the event loop on SQLite, in a worker thread when it would wait."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from typing import Any

import anyio.to_thread
import pytest
from anyio import CapacityLimiter
from sqlalchemy import update

from syncd.manage.details import DETAILS_ROW, details_page
from syncd.manage.tokens import token_digest
from syncd.runtime import Runtime
from syncd.store.models import Booking, ManageToken
from syncd.store.prepared import PreparedRead
from syncd.web import reads as page_reads
from syncd.web.reads import PageReads
from tests.manage import shop
from tests.manage.shop import NOW, book


@pytest.fixture
def token(runtime: Runtime) -> str:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        _, issued = book(session, "b1", paid=True)
    return issued


def digest_of(token: str) -> str:
    digest = token_digest(token)
    assert digest is not None
    return digest


def core_row(runtime: Runtime, token: str) -> tuple[Any, ...]:
    with runtime.sessions.begin() as session:
        row = session.execute(DETAILS_ROW, {"digest": digest_of(token)}).one()
    return tuple(row)


def read_one(reads: PageReads, token: str) -> tuple[Any, ...] | None:
    return asyncio.run(reads.one(DETAILS_ROW, {"digest": digest_of(token)}))


def test_a_prepared_read_gives_exactly_what_core_gives(runtime: Runtime, token: str) -> None:
    prepared = PreparedRead(DETAILS_ROW, runtime.engine.dialect)
    connection = runtime.engine.raw_connection()
    try:
        row = prepared.one(connection.dbapi_connection, {"digest": digest_of(token)})
        missing = prepared.one(connection.dbapi_connection, {"digest": "0" * 64})
    finally:
        connection.close()
    assert row == core_row(runtime, token)
    assert row is not None
    assert row[4].utcoffset() is not None  # aware UTC, as the store's type gives it
    assert row[7] is True
    assert json.loads(row[8])["enabled"] is True  # the rules as stored: see rules_from_text
    assert missing is None


def test_the_page_from_the_row_matches_the_booking(runtime: Runtime, token: str) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    page = details_page(read_one(reads, token), digest_of(token), NOW)
    assert page is not None
    assert (page.booking_key, page.staff_name, page.paid) == ("b1", "Alice", True)
    assert page.start_local.isoformat() == "2030-03-06T10:00:00+01:00"


def test_a_link_that_opens_nothing_gives_no_page(runtime: Runtime, token: str) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    row = read_one(reads, token)
    assert details_page(row, "f" * 64, NOW) is None  # the row of another digest
    assert details_page(row, digest_of(token), row[5] if row else NOW) is None  # ended
    with runtime.sessions.begin() as session:
        session.execute(update(ManageToken).values(revoked_at=NOW))
    assert details_page(read_one(reads, token), digest_of(token), NOW) is None
    assert details_page(None, digest_of(token), NOW) is None


def test_a_change_is_seen_by_the_next_read(runtime: Runtime, token: str) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    assert (read_one(reads, token) or ())[3] == "confirmed"
    with runtime.sessions.begin() as session:
        session.execute(update(Booking).values(status="cancelled"))
    assert (read_one(reads, token) or ())[3] == "cancelled"


def test_sqlite_reads_in_the_loop_and_other_stores_in_a_thread(
    runtime: Runtime, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_over: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        handed_over.append("thread")
        return await run_sync(*args, **kwargs)

    reads = PageReads(runtime.engine, CapacityLimiter(1))
    read_one(reads, token)  # on SQLite the loop's connection is opened in a thread
    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    assert read_one(reads, token) == core_row(runtime, token)
    expected = [] if runtime.engine.dialect.name == "sqlite" else ["thread"]
    assert handed_over == expected


class BusyConnection:
    """The loop's connection as SQLite leaves it when a read would have to wait."""

    def cursor(self) -> BusyConnection:
        return self

    def execute(self, *_: object) -> None:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise error

    def close(self) -> None:
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # only SQLite reads in the loop
def test_a_sqlite_read_that_would_wait_is_retried_in_a_thread(
    runtime: Runtime, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    loop_thread = threading.get_ident()
    read_in: list[bool] = []
    read_pooled = page_reads.read_pooled

    def in_thread(*args: Any) -> Any:
        read_in.append(threading.get_ident() != loop_thread)
        return read_pooled(*args)

    monkeypatch.setattr(page_reads, "read_pooled", in_thread)
    monkeypatch.setattr(reads, "_loop_connection", BusyConnection())
    assert read_one(reads, token) == core_row(runtime, token)
    assert read_in == [True]


def test_first_reads_arriving_together_keep_one_pooled_connection(
    runtime: Runtime, token: str
) -> None:
    reads = PageReads(runtime.engine, CapacityLimiter(1))
    digest = digest_of(token)

    async def many_first_reads() -> list[tuple[Any, ...] | None]:
        return await asyncio.gather(*(reads.one(DETAILS_ROW, {"digest": digest})
                                      for _ in range(16)))

    rows = asyncio.run(many_first_reads())
    assert rows == [core_row(runtime, token)] * 16
    held = 1 if runtime.engine.dialect.name == "sqlite" else 0  # the loop's own connection
    assert runtime.engine.pool.checkedout() == held  # type: ignore[attr-defined]

"""What counts as a database outage, and its cause: from the drivers' own error classes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from syncd.store.outage import Outage, outage_of


def wrapped(error: Exception) -> DBAPIError:
    """`error` as SQLAlchemy hands it on."""
    return DBAPIError.instance("UPDATE x", None, error, psycopg.Error)


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (errors.DiskFull("could not extend file"), Outage.FULL),
        (errors.ReadOnlySqlTransaction("read-only transaction"), Outage.READ_ONLY),
        (errors.AdminShutdown("terminating connection"), Outage.UNREACHABLE),
        (errors.CannotConnectNow("the database system is starting up"), Outage.UNREACHABLE),
        (errors.TooManyConnections("too many clients"), Outage.UNREACHABLE),
        (psycopg.OperationalError("connection refused"), Outage.UNREACHABLE),
        (errors.UniqueViolation("duplicate key"), None),
        (errors.UndefinedTable("no such table"), None),
    ],
)
def test_postgresql_errors_raw_and_wrapped(error: Exception, outage: Outage | None) -> None:
    assert outage_of(error) == outage
    assert outage_of(wrapped(error)) == outage


def sqlite_error(tmp_path: Path, url_query: str, statement: str) -> Exception:
    engine = create_engine(f"sqlite:///file:{tmp_path / 'x.db'}?{url_query}&uri=true")
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    except DBAPIError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("no error")


def test_sqlite_errors(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "x.db").execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").close()
    read_only = sqlite_error(tmp_path, "mode=ro", "INSERT INTO t VALUES (1)")
    assert outage_of(read_only) == Outage.READ_ONLY
    missing = sqlite_error(tmp_path / "nowhere", "mode=ro", "SELECT 1")
    assert outage_of(missing) == Outage.UNREACHABLE
    bug = sqlite_error(tmp_path, "mode=rw", "SELECT * FROM no_such_table")
    assert outage_of(bug) is None


def test_a_pool_timeout_is_an_outage_and_other_errors_are_not() -> None:
    assert outage_of(PoolTimeout("QueuePool limit reached")) == Outage.UNREACHABLE
    assert outage_of(IntegrityError("x", None, ValueError())) is None
    assert outage_of(ValueError("bug")) is None

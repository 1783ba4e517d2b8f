"""Fresh, empty databases for tests: a SQLite file, or a PostgreSQL schema of its own.

    from tests.dbs import database_url  # in a conftest.py: runs each test on both

    def test_something(database_url: str) -> None:
        engine = create_db_engine(database_url)  # empty: run syncd.store.schema.upgrade

PostgreSQL is reached at $SYNCD_TEST_DATABASE_URL (default DEFAULT_POSTGRES_URL).
Each test gets a uniquely named schema, selected through the connection's
search_path, and the schema is dropped afterwards. When the server cannot be
reached the PostgreSQL tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def postgres_server_url() -> str:
    return os.environ.get("SYNCD_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def _libpq_url(url: str) -> str:
    """The URL as psycopg wants it (no SQLAlchemy `+driver` suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (asked once per run)."""
    try:
        with psycopg.connect(_libpq_url(postgres_server_url()), connect_timeout=5):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {make_url(postgres_server_url())!r} is unreachable: {error}"


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose real component is missing here; under CI=true fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_postgres() -> None:
    """Skip the test when PostgreSQL is unreachable; under CI=true fail it instead."""
    reason = postgres_unreachable()
    if reason is not None:
        unavailable(reason)


def _admin(statement: sql.Composed) -> None:
    with psycopg.connect(_libpq_url(postgres_server_url()), autocommit=True) as connection:
        connection.execute(statement)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema; dropped on exit."""
    require_postgres()
    schema = f"syncd_test_{uuid.uuid4().hex[:16]}"
    _admin(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(postgres_server_url())
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        _admin(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'syncd.db'}"


@contextmanager
def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    """An empty database of `backend` ("sqlite" or "postgresql") for one test."""
    if backend == "sqlite":
        yield sqlite_url(directory)
        return
    with postgres_schema_url() as url:
        yield url


def backend_of(url: str) -> str:
    """ "sqlite" or "postgresql": which backend a URL from `database_url` is on."""
    return make_url(url).get_backend_name()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend in turn; the test migrates it as it needs."""
    with fresh_database_url(str(request.param), tmp_path) as url:
        yield url

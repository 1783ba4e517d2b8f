"""Fresh databases for tests: a SQLite file, or a PostgreSQL schema of its own.

    from tests.dbs import database_url  # in a conftest.py: runs each test on both

    def test_something(database_url: str) -> None:
        engine = create_db_engine(database_url)  # at the head revision already

    def test_a_revision(empty_database_url: str) -> None:
        engine = create_db_engine(empty_database_url)  # empty: the test migrates it

`database_url` is migrated before the test (on SQLite a copy of a store migrated
once per run), so `syncd.store.schema.upgrade` on it finds nothing to do; tests of
the migrations themselves take `empty_database_url`. PostgreSQL is reached at
$SYNCD_TEST_DATABASE_URL (default DEFAULT_POSTGRES_URL). Each test gets a uniquely
named schema, selected through the connection's search_path, and the schema is
dropped afterwards. When the server cannot be reached the PostgreSQL tests are
skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import shutil
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from syncd.store.db import create_db_engine
from syncd.store.schema import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DUMPED_SCHEMA_NAME = "syncd_dumped_schema"
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
    schema = _new_schema_name()
    _admin(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield _schema_url(schema)
    finally:
        _drop_schema(schema)


@contextmanager
def postgres_database_url() -> Iterator[str]:
    """A URL of a new, empty database of its own; dropped on exit. For tests of
    NOTIFY/LISTEN, whose channels span a whole database: in a schema of the shared one,
    any other work's commits would reach them."""
    require_postgres()
    name = _new_schema_name()
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(postgres_server_url()).set(database=name).render_as_string(
            hide_password=False
        )
    finally:
        # DROP DATABASE waits for a checkpoint: seconds, up to tens of them on a busy server.
        # A thread drops it while the tests go on; not a daemon, so the run waits for it.
        threading.Thread(target=_drop_database, args=(name,), name=f"drop {name}").start()


def _drop_database(name: str) -> None:
    _admin(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _new_schema_name() -> str:
    return f"syncd_test_{uuid.uuid4().hex[:16]}"


def _schema_url(schema: str) -> str:
    url = make_url(postgres_server_url())
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _drop_schema(schema: str) -> None:
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


def migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


class MigratedSqlite:
    """A SQLite store migrated once (on first use), copied for each test that asks for one."""

    def __init__(self, directory: Path) -> None:
        self._template = directory / "template.db"

    def copy_into(self, directory: Path) -> str:
        """A copy of the migrated store in `directory`; its URL."""
        if not self._template.exists():
            migrate(f"sqlite:///{self._template}")
        with closing(sqlite3.connect(self._template)) as source, closing(
            sqlite3.connect(directory / "syncd.db")
        ) as copy:
            source.backup(copy)
        return sqlite_url(directory)


def _schema_script(schema: str) -> str:
    """SQL making `schema` again (tables, indexes, rows) under the name DUMPED_SCHEMA_NAME,
    which each copy replaces with its own: what pg_dump writes, without psql's commands."""
    dump = subprocess.run(
        ["pg_dump", "--schema", schema, "--inserts", "--no-owner", "--no-privileges",
         "--dbname", _libpq_url(postgres_server_url())],
        check=True, capture_output=True, text=True,
    ).stdout
    lines = [line for line in dump.splitlines() if not line.startswith("\\")]
    return "\n".join(lines).replace(schema, DUMPED_SCHEMA_NAME)


class MigratedPostgres:
    """Migrated PostgreSQL schemas, made a few ahead by a thread while the tests run.

    One schema is migrated by alembic; the others replay the SQL pg_dump writes of it,
    which takes the server's time rather than the tests'. Without pg_dump each schema
    is migrated by alembic when a test asks for it.
    """

    def __init__(self, ahead: int = 2) -> None:
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @contextmanager
    def schema_url(self) -> Iterator[str]:
        """The URL of a migrated schema of its own; dropped on exit."""
        if shutil.which("pg_dump") is None:
            with postgres_schema_url() as url:
                migrate(url)
                yield url
            return
        schema = self._take()
        try:
            yield _schema_url(schema)
        finally:
            _drop_schema(schema)

    def _take(self) -> str:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._produce, args=(self._script(),), name="migrated-schemas", daemon=True
            )
            self._thread.start()
        while True:
            try:
                return self._ready.get(timeout=1)
            except queue.Empty:
                if self._failure is not None:
                    raise RuntimeError("no migrated schema could be made") from self._failure

    @staticmethod
    def _script() -> str:
        with postgres_schema_url() as url:
            migrate(url)
            return _schema_script(str(make_url(url).query["options"]).split("=", 1)[1])

    def _produce(self, script: str) -> None:
        try:
            while not self._stopping.is_set():
                schema = _new_schema_name()
                _admin_script(script.replace(DUMPED_SCHEMA_NAME, schema))
                self._hand_over(schema)
        except BaseException as error:  # reported to the test waiting for a schema
            self._failure = error

    def _hand_over(self, schema: str) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(queue.Full):
                self._ready.put(schema, timeout=0.5)
                return
        _drop_schema(schema)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)
        while not self._ready.empty():
            _drop_schema(self._ready.get_nowait())


def _admin_script(script: str) -> None:
    with psycopg.connect(_libpq_url(postgres_server_url()), autocommit=True) as connection:
        connection.execute(script.encode())


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> MigratedSqlite:
    return MigratedSqlite(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[MigratedPostgres]:
    made = MigratedPostgres()
    yield made
    made.close()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_sqlite: MigratedSqlite,
    migrated_postgres: MigratedPostgres,
) -> Iterator[str]:
    """A database at the head revision on each backend in turn."""
    if request.param == "sqlite":
        yield migrated_sqlite.copy_into(tmp_path)
        return
    require_postgres()
    with migrated_postgres.schema_url() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend in turn; the test migrates it as it needs."""
    with fresh_database_url(str(request.param), tmp_path) as url:
        yield url

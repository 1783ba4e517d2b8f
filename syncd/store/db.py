"""Engines and sessions for the embedded default (SQLite) and PostgreSQL.

`database.url` selects the backend: a `sqlite:///` URL is the single-process
embedded default (one worker, WAL mode); a `postgresql://` URL is the
deployment backend that several worker processes may share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from syncd.errors import Conflict
from syncd.private_files import private_file, tighten
from syncd.store.rested_ping import ping_rested_connections

T = TypeVar("T")
S = TypeVar("S", bound=Session)  # the session class a sessionmaker makes

# Execution option of a connection whose transaction only reads (see read_transaction).
READ_ONLY = "syncd_read_only"
# Per SQLite engine: the turn of this process's writers (see transaction).
_WRITER_TURNS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # A server that does not answer (a partition, a host gone) fails a connection within
    # seconds, as one that refuses does: requests answer 503 rather than hang.
    timeout = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": 10}
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        hide_parameters=True,
        connect_args=timeout,
    )
    ping_rested_connections(engine)  # a connection the server dropped is replaced, not used
    return engine


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    # A URI form (file:...?mode=ro) opens an existing file; its name is not a path here.
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_database(Path(database))
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,  # error messages would otherwise quote customer data
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    _WRITER_TURNS[engine] = threading.Lock()
    return engine


def _private_database(path: Path) -> None:
    # SQLite gives its -wal and -shm files the database file's mode
    private_file(path)
    for companion in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + companion))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are issued by SQLAlchemy (see _sqlite_begin),
    # not by the driver's implicit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        # A reader sees a snapshot (WAL) and never needs the write lock: it neither
        # waits for writers nor holds them up.
        connection.exec_driver_sql("BEGIN")
        return
    # Take the write lock at BEGIN so two writers never deadlock on upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Plain sessions, for tools that change no booking (a process's are SyncdSessions)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[S]) -> Iterator[S]:
    """One unit of work: committed when the block ends, rolled back on error.

    On SQLite the process's writers take turns here before BEGIN IMMEDIATE: a
    writer left to SQLite's busy handler polls the lock with sleeps of up to
    100 ms, and so often starts long after the lock was freed.
    """
    with _writer_turn(sessions), sessions.begin() as session:
        yield session


def _writer_turn(sessions: sessionmaker[S]) -> AbstractContextManager[object]:
    bind = sessions.kw.get("bind")
    turn = _WRITER_TURNS.get(bind) if isinstance(bind, Engine) else None
    return turn if turn is not None else nullcontext()


@contextmanager
def read_transaction(sessions: sessionmaker[S]) -> Iterator[S]:
    """A transaction that only reads: one consistent snapshot, no write lock on SQLite.

    Writing in it is a mistake: on SQLite the write could fail as busy at once
    instead of waiting for the lock.
    """
    with sessions() as session, session.begin():
        session.connection(execution_options={READ_ONLY: True})
        yield session


def in_transaction(sessions: sessionmaker[S], work: Callable[[S], T]) -> T:
    """Run `work` in one transaction, retrying once after a unique-key race."""
    try:
        return _attempt(sessions, work)
    except IntegrityError:
        pass
    try:
        return _attempt(sessions, work)
    except IntegrityError:
        raise Conflict("a concurrent request changed the same records; try again") from None


def _attempt(sessions: sessionmaker[S], work: Callable[[S], T]) -> T:
    with sessions.begin() as session:
        return work(session)

"""Schema migrations (alembic), run by `syncd db upgrade` and by `syncd run` on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: every process that runs migrations on PostgreSQL takes
# this advisory lock first, so several hosts may run `db upgrade` at once.
_MIGRATION_LOCK = 0x5_1_7_C_D


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with migrating(engine) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with migrating(engine) as connection:
        command.downgrade(alembic_config(connection), revision)


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in the one transaction a migration runs in.

    On PostgreSQL it holds the migration lock. On SQLite, foreign keys are off for
    it: a batch migration copies a table, drops the original and renames the copy,
    and dropping a table that other rows point at fails with them on (SQLite cannot
    switch them inside a transaction, hence before it). What the migration leaves
    is checked before its commit instead."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if not sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK}
                    )
                yield connection
                if sqlite:
                    _refuse_dangling_references(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # through the driver: SQLAlchemy's own execute would begin a transaction first
    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"
    )


def _refuse_dangling_references(connection: Connection) -> None:
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        tables = sorted({str(row[0]) for row in dangling})
        raise RuntimeError(f"migration left rows pointing nowhere in: {', '.join(tables)}")


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def current_revision(engine: Engine) -> str:
    return ", ".join(sorted(current_revisions(engine))) or "none"


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()

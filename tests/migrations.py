"""Checks of one alembic revision: it creates what the models describe, and takes it away.

    with migrated_engine(database_url, "0004") as engine:   # the store at revision 0004
        ...                                                  # rows the revision must carry
        upgrade(engine)
        assert model_differences(engine, TABLES, COLUMNS) == []

    assert_round_trip(database_url, "0003", TABLES)  # upgrade, downgrade past it, upgrade
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import downgrade, upgrade

Columns = Mapping[str, set[str]]  # table -> columns a revision adds to it


@contextmanager
def migrated_engine(database_url: str, revision: str | None = None) -> Iterator[Engine]:
    """An engine on the database, upgraded to `revision` if one is given; disposed on exit."""
    engine = create_db_engine(database_url)
    try:
        if revision is not None:
            upgrade_to(engine, revision)
        yield engine
    finally:
        engine.dispose()


def upgrade_to(engine: Engine, revision: str) -> None:
    upgrade(engine, revision)


def downgrade_to(engine: Engine, revision: str) -> None:
    downgrade(engine, revision)


def model_differences(
    engine: Engine, tables: set[str], columns: Columns | None = None
) -> list[object]:
    """How the database differs from the models in `tables` and in the tables of `columns`."""
    compared = tables | set(columns or {})

    def ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        table = item if kind == "table" else getattr(item, "table", None)
        return getattr(table, "name", None) in compared

    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": ours}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, Base.metadata))


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def column_names(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def assert_round_trip(
    database_url: str, revision: str, tables: set[str], columns: Columns | None = None
) -> None:
    """Upgraded, the store matches the models; downgraded to just before `revision`, its
    `tables` and `columns` are gone; upgraded again, it matches the models again."""
    with migrated_engine(database_url) as engine:
        upgrade(engine)
        assert table_names(engine) >= tables
        assert model_differences(engine, tables, columns) == []
        downgrade_to(engine, f"{revision}-1")
        assert not tables & table_names(engine)
        for table, added in (columns or {}).items():
            assert not added & column_names(engine, table)
        upgrade(engine)
        assert table_names(engine) >= tables
        assert model_differences(engine, tables, columns) == []

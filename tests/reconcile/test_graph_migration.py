"""Revision 0009_graph_subscriptions creates exactly what the model describes, and drops it."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from syncd.reconcile.graph_subscriptions import GraphSubscription
from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import alembic_config, upgrade
from tests.dbs import database_url

__all__ = ["database_url"]

TABLE = GraphSubscription.__tablename__


def _ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    table = item if kind == "table" else getattr(item, "table", None)
    return getattr(table, "name", None) == TABLE


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": _ours}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_matches_the_model_and_downgrade_removes_it(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        assert TABLE in inspect(engine).get_table_names()
        assert _differences(engine) == []
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0009_graph_subscriptions-1")
        assert TABLE not in inspect(engine).get_table_names()
        upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()

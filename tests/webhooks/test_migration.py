"""Revision 0003 creates exactly the tables the models describe, and takes them away again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from syncd.store.db import create_db_engine
from syncd.store.models import Base
from syncd.store.schema import alembic_config, upgrade
from syncd.webhooks import models

TABLES = {models.WebhookSubscription.__tablename__, models.WebhookDelivery.__tablename__}


def _ours(item: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    table = item if kind == "table" else getattr(item, "table", None)
    return getattr(table, "name", None) in TABLES


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": _ours}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_matches_the_models_and_downgrade_removes_the_tables(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert _differences(engine) == []
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0003-1")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()

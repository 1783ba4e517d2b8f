"""Revision 0017_ratings (ratings): it matches the models, leaves every stored service setting as
it was, and goes away cleanly."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

import syncd.manage.rating_models  # noqa: F401 - the tables this revision adds
from syncd.store.models import Service
from syncd.store.schema import upgrade
from tests.dbs import empty_database_url
from tests.manage.test_migration import _ROWS
from tests.migrations import (
    column_names,
    downgrade_to,
    migrated_engine,
    model_differences,
    table_names,
)

__all__ = ["empty_database_url"]

TABLES = {"rating_tokens", "booking_ratings"}
COLUMN = "rating_request_minutes_after"


def test_the_revision_matches_the_models_and_keeps_stored_settings(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0011_manage_indexes") as engine:
        with engine.begin() as connection:
            for statement in _ROWS:
                connection.execute(text(statement))
            connection.execute(text(
                "UPDATE services SET manage_web_bookings = true, manage_cutoff_hours = 6"))
        upgrade(engine)
        assert table_names(engine) >= TABLES
        assert model_differences(engine, TABLES, {"services": {COLUMN}}) == []
        with Session(engine) as session:
            service = session.get_one(Service, 1)
            assert (service.manage_web_bookings, service.manage_cutoff_hours) == (True, 6)
            assert service.rating_request_minutes_after is None
        downgrade_to(engine, "0011_manage_indexes")
        assert not TABLES & table_names(engine)
        assert COLUMN not in column_names(engine, "services")

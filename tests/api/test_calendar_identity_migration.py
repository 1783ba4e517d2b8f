"""Revision 0026 adds the bindings' calendar identity (unique) as the model describes it, and
takes it away again (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip

__all__ = ["empty_database_url"]


def test_upgrade_matches_the_model_and_downgrade_removes_the_column(
    empty_database_url: str,
) -> None:
    assert_round_trip(
        empty_database_url, "0026_calendar_identity", set(),
        {"calendar_bindings": {"calendar_identity"}},
    )

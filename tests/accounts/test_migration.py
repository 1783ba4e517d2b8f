"""Revision 0024 creates the stored accounts' table and the bindings' column that names
one, as the models describe them, and takes both away again."""

from __future__ import annotations

from tests.migrations import assert_round_trip


def test_upgrade_matches_the_models_and_downgrade_removes_the_accounts(
    empty_database_url: str,
) -> None:
    assert_round_trip(
        empty_database_url, "0024", {"connector_accounts"}, {"calendar_bindings": {"account_id"}}
    )

"""Revision 0025_connect_tokens: exactly what the model describes, and taken away again
(SQLite and PostgreSQL)."""

from __future__ import annotations

from syncd.store.connect_tokens import ConnectToken
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip

__all__ = ["empty_database_url"]


def test_connect_tokens_round_trip(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0025_connect_tokens", {ConnectToken.__tablename__})

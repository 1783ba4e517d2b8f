"""Revision 0003 creates exactly the tables the models describe, and takes them away again."""

from __future__ import annotations

from syncd.webhooks import models
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip

__all__ = ["empty_database_url"]

TABLES = {models.WebhookSubscription.__tablename__, models.WebhookDelivery.__tablename__}


def test_upgrade_matches_the_models_and_downgrade_removes_the_tables(
    empty_database_url: str,
) -> None:
    assert_round_trip(empty_database_url, "0003", TABLES)

"""Revision 0009_graph_subscriptions creates exactly what the model describes, and drops it."""

from __future__ import annotations

from syncd.reconcile.graph_subscriptions import GraphSubscription
from tests.dbs import empty_database_url
from tests.migrations import assert_round_trip

__all__ = ["empty_database_url"]

TABLE = GraphSubscription.__tablename__


def test_upgrade_matches_the_model_and_downgrade_removes_it(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0009_graph_subscriptions", {TABLE})

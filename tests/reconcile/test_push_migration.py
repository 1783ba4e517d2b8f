"""Revisions 0009_graph_subscriptions (the table, first under Graph's name) and
0023_push_subscriptions (its generic name): exactly what the model describes, the
subscriptions already made carried across both ways (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from syncd.reconcile.push.subscriptions import PushSubscription
from syncd.store.models import CalendarBinding, UTCDateTime
from syncd.store.schema import upgrade
from tests import factories as f
from tests.dbs import empty_database_url
from tests.migrations import (
    assert_round_trip,
    column_names,
    downgrade_to,
    migrated_engine,
    table_names,
)

__all__ = ["empty_database_url"]

TABLE = PushSubscription.__tablename__
FORMER = "graph_subscriptions"
COLUMNS = {column.name for column in PushSubscription.__table__.columns}
EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ROWS = [  # one live subscription, one that failed and waits for its next attempt
    {"subscription_id": "7f0e6c1a-0000-4000-8000-000000000001", "client_state_hash": "a" * 64,
     "expires_at": EXPIRES, "resync_wanted": True, "renew_wanted": False,
     "next_attempt_at": None, "failures": 0, "last_error": None},
    {"subscription_id": None, "client_state_hash": None, "expires_at": None,
     "resync_wanted": False, "renew_wanted": True, "next_attempt_at": EXPIRES, "failures": 3,
     "last_error": "PermanentError: validation failed"},
]


def test_upgrade_matches_the_model_and_downgrade_removes_it(empty_database_url: str) -> None:
    assert_round_trip(empty_database_url, "0023_push_subscriptions", {TABLE})


def test_the_first_revision_made_the_table_under_graphs_name(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "0009_graph_subscriptions") as engine:
        assert FORMER in table_names(engine)
        assert column_names(engine, FORMER) == COLUMNS
        downgrade_to(engine, "0004")
        assert FORMER not in table_names(engine)


def test_subscriptions_made_before_are_kept(empty_database_url: str) -> None:
    with migrated_engine(empty_database_url, "heads") as engine:
        binding_ids = _bindings(engine, len(ROWS))  # made by today's model, then taken back
        downgrade_to(engine, "0022_merge_correctness")
        with engine.begin() as connection:
            for binding_id, row in zip(binding_ids, ROWS, strict=True):
                connection.execute(sa.insert(_former_table()).values(binding_id=binding_id, **row))
        upgrade(engine)
        assert FORMER not in table_names(engine)
        assert _kept(engine) == dict(zip(binding_ids, ROWS, strict=True))
        downgrade_to(engine, "0022_merge_correctness")
        assert TABLE not in table_names(engine)
        with engine.connect() as connection:
            back = connection.execute(select(_former_table())).mappings().all()
        assert {row["binding_id"]: {k: row[k] for k in ROWS[0]} for row in back} == dict(
            zip(binding_ids, ROWS, strict=True)
        )


def _bindings(engine: Engine, count: int) -> list[int]:
    with Session(engine) as session, session.begin():
        shop = f.merchant(session)
        for n in range(count):
            f.staff_with_calendar(session, shop, f"staff{n}", f"user{n}@contoso.test", "office")
        session.flush()
        return sorted(session.scalars(select(CalendarBinding.id)))


def _former_table() -> sa.TableClause:
    """graph_subscriptions as revision 0009 made it (no model describes it any more)."""
    types: dict[str, Any] = {"expires_at": UTCDateTime(timezone=True),
                             "next_attempt_at": UTCDateTime(timezone=True),
                             "resync_wanted": sa.Boolean(), "renew_wanted": sa.Boolean()}
    return sa.table(FORMER, *(sa.column(name, types.get(name)) for name in sorted(COLUMNS)))


def _kept(engine: Engine) -> dict[int, dict[str, Any]]:
    with Session(engine) as session:
        return {
            row.binding_id: {key: getattr(row, key) for key in ROWS[0]}
            for row in session.scalars(select(PushSubscription))
        }

"""graph_subscriptions becomes push_subscriptions, its rows kept

Revision ID: 0023_push_subscriptions
Revises: 0022_merge_correctness

The table keeps the subscriptions of every connector whose service pushes
changes (syncd/reconcile/push/), not only Microsoft Graph's. It is made anew
under its name, with constraint names to match, and the rows are copied: the
same statements on SQLite and PostgreSQL, in the migration's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0023_push_subscriptions"
down_revision = "0022_merge_correctness"
branch_labels = None
depends_on = None

UTC_DATETIME = syncd.store.models.UTCDateTime(timezone=True)
COLUMNS = ("binding_id", "subscription_id", "client_state_hash", "expires_at", "resync_wanted",
           "renew_wanted", "next_attempt_at", "failures", "last_error")


def upgrade() -> None:
    _create("push_subscriptions")
    _copy("graph_subscriptions", "push_subscriptions")
    op.drop_table("graph_subscriptions")


def downgrade() -> None:
    _create("graph_subscriptions")
    _copy("push_subscriptions", "graph_subscriptions")
    op.drop_table("push_subscriptions")


def _create(table: str) -> None:
    op.create_table(
        table,
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=200), nullable=True),
        sa.Column("client_state_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", UTC_DATETIME, nullable=True),
        sa.Column("resync_wanted", sa.Boolean(), nullable=False),
        sa.Column("renew_wanted", sa.Boolean(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["binding_id"], ["calendar_bindings.id"],
            name=op.f(f"fk_{table}_binding_id_calendar_bindings"),
        ),
        sa.PrimaryKeyConstraint("binding_id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("subscription_id", name=op.f(f"uq_{table}_subscription_id")),
    )


def _copy(source: str, target: str) -> None:
    columns = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source}")  # noqa: S608

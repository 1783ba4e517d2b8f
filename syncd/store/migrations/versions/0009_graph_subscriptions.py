"""Microsoft Graph change-notification subscriptions, one per bound calendar

Revision ID: 0009_graph_subscriptions
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0009_graph_subscriptions"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = syncd.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "graph_subscriptions",
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
            name=op.f("fk_graph_subscriptions_binding_id_calendar_bindings"),
        ),
        sa.PrimaryKeyConstraint("binding_id", name=op.f("pk_graph_subscriptions")),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_graph_subscriptions_subscription_id")),
    )


def downgrade() -> None:
    op.drop_table("graph_subscriptions")

"""connector_accounts: calendar accounts stored as data; bindings may name one

Revision ID: 0024_connector_accounts
Revises: 0023_push_subscriptions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0024_connector_accounts"
down_revision = "0023_push_subscriptions"
branch_labels = None
depends_on = None

UTC_DATETIME = syncd.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    _create_accounts()
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_calendar_bindings_account_id"), ["account_id"])
        batch.create_foreign_key(
            batch.f("fk_calendar_bindings_account_id_connector_accounts"),
            "connector_accounts", ["account_id"], ["id"], ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.drop_constraint(
            batch.f("fk_calendar_bindings_account_id_connector_accounts"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_calendar_bindings_account_id"))
        batch.drop_column("account_id")
    op.drop_table("connector_accounts")


def _create_accounts() -> None:
    op.create_table(
        "connector_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("credential", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("auth_error_notified", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"],
            name=op.f("fk_connector_accounts_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_connector_accounts_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_accounts")),
        sa.UniqueConstraint(
            "merchant_id", "key", name=op.f("uq_connector_accounts_merchant_id_key")
        ),
    )

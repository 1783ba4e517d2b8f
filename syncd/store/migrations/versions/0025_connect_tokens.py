"""connect links: the hashed tokens that let a staff member connect their own calendar

Revision ID: 0025_connect_tokens
Revises: 0024_connector_accounts

A new table; nothing stored changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0025_connect_tokens"
down_revision = "0024_connector_accounts"
branch_labels = None
depends_on = None

_TIME = syncd.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connect_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("draft", sa.Text(), nullable=True),
        sa.Column("draft_at", _TIME, nullable=True),
        sa.Column("sign_in_state", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"],
                                name=op.f("fk_connect_tokens_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_connect_tokens_token_hash")),
        sa.UniqueConstraint("sign_in_state", name=op.f("uq_connect_tokens_sign_in_state")),
    )
    op.create_index(op.f("ix_connect_tokens_staff_id"), "connect_tokens", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_connect_tokens_staff_id"), table_name="connect_tokens")
    op.drop_table("connect_tokens")

"""customer ratings: a per-service rating request, rating links, and the ratings

Revision ID: 0017_ratings
Revises: 0011_manage_indexes

Stored values are left as they are: existing services get no rating request
(NULL) and keep their self-service settings.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0017_ratings"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None

_TIME = syncd.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to
    # (services) while foreign keys are enforced.
    op.add_column(
        "services", sa.Column("rating_request_minutes_after", sa.Integer(), nullable=True)
    )
    op.create_table(
        "rating_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
    )
    op.create_index("ix_rating_tokens_booking_id", "rating_tokens", ["booking_id"])
    op.create_table(
        "booking_ratings",
        sa.Column("booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), primary_key=True),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", _TIME, nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
    )
    op.create_index("ix_booking_ratings_merchant_id", "booking_ratings", ["merchant_id"])


def downgrade() -> None:
    op.drop_table("booking_ratings")
    op.drop_table("rating_tokens")
    op.drop_column("services", "rating_request_minutes_after")  # SQLite 3.35+: in place

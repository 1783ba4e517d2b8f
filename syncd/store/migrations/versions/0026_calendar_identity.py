"""calendar identity: where a bound calendar lives whichever account reaches it, unique
among active bindings

Revision ID: 0026_calendar_identity
Revises: 0025_connect_tokens

A new nullable column; bindings made before it get theirs when next stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_calendar_identity"
down_revision = "0025_connect_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.add_column(sa.Column("calendar_identity", sa.String(length=1200), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_calendar_bindings_calendar_identity"), ["calendar_identity"]
        )


def downgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.drop_constraint(op.f("uq_calendar_bindings_calendar_identity"), type_="unique")
        batch.drop_column("calendar_identity")

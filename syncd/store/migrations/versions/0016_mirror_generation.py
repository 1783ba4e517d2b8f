"""mirrors.generation: the create lineage of a mirror's event

Revision ID: 0016_mirror_generation
Revises: 0011_manage_indexes

Graph's transactionId de-duplicates retried creates; re-creating an event that
was deleted by hand must be a new transaction, so each mirror counts the events
it had to make anew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_mirror_generation"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to.
    op.add_column("mirrors", sa.Column("generation", sa.Integer(), nullable=False,
                                       server_default="0"))


def downgrade() -> None:
    op.drop_column("mirrors", "generation")  # SQLite 3.35+: in place

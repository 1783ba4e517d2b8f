"""reconcile_states.unreadable: the events a calendar's passes set apart as unreadable

Revision ID: 0014_unreadable_events
Revises: 0011_manage_indexes

A series recurring too often to expand or an event dated out of range is set
apart rather than read; the merchant sees which one on the calendar's watch state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_unreadable_events"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reconcile_states", sa.Column("unreadable", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("reconcile_states", "unreadable")  # SQLite 3.35+: in place

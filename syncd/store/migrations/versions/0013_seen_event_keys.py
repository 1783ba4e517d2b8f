"""seen_events keep the UID and syncd tag an event carries: a booking's own event is never its
double booking, even when it was seen before the booking existed (a rebuilt store)

Revision ID: 0013_seen_event_keys
Revises: 0011_manage_indexes

Events seen before this revision have no keys recorded: their etags are forgotten and every
calendar's cursor dropped, so the next pass lists each calendar and reads them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_seen_event_keys"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to.
    op.add_column("seen_events", sa.Column("uid", sa.String(length=255), nullable=True))
    op.add_column("seen_events", sa.Column("tag", sa.String(length=255), nullable=True))
    op.execute("UPDATE seen_events SET etag = NULL")
    op.execute("UPDATE reconcile_states SET cursor = NULL")


def downgrade() -> None:
    op.drop_column("seen_events", "tag")  # SQLite 3.35+: in place
    op.drop_column("seen_events", "uid")

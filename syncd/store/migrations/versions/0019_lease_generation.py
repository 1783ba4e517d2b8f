"""calendar leases fenced: a generation (fencing token) counted up on every acquisition

Revision ID: 0019_lease_generation
Revises: 0011_manage_indexes

A worker paused past its lease (a stopped VM, a long GC) may wake after
another worker held the calendar, with requests and results of its own still
on their way. Results are recorded only while the lease owner and generation
are still the ones the work was claimed under.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_lease_generation"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to.
    op.add_column(
        "calendar_bindings",
        sa.Column("lease_generation", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("calendar_bindings", "lease_generation")  # SQLite 3.35+: in place

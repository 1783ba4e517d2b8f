"""bookings indexed by staff member and end: the bookings that block a staff member's slots

Revision ID: 0011_manage_indexes
Revises: 0010

Slot listings and confirmations read a staff member's bookings that end after
a moment; by staff member alone that read went through their whole history.
"""

from __future__ import annotations

from alembic import op

revision = "0011_manage_indexes"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bookings_staff_end", "bookings", ["staff_id", "end"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookings_staff_end", table_name="bookings")

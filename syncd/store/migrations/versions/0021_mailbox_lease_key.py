"""calendar leases per mailbox: a lease key shared by the bindings of one mailbox

Revision ID: 0021_mailbox_lease_key
Revises: 0014_unreadable_events, 0016_mirror_generation, 0017_ratings,
    0018_readiness_probe, 0019_lease_generation

Outlook allows 4 concurrent requests per mailbox, whichever calendar they go
to: all bindings with the same lease key are leased to one worker at a time.
The worker fills the key in from the binding's connector (NULL until then:
the binding is leased on its own).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_mailbox_lease_key"
down_revision = (
    "0014_unreadable_events",
    "0016_mirror_generation",
    "0017_ratings",
    "0018_readiness_probe",
    "0019_lease_generation",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to.
    op.add_column(
        "calendar_bindings", sa.Column("lease_key", sa.String(length=1200), nullable=True)
    )
    op.create_index("ix_calendar_bindings_lease_key", "calendar_bindings", ["lease_key"])


def downgrade() -> None:
    op.drop_index("ix_calendar_bindings_lease_key", table_name="calendar_bindings")
    op.drop_column("calendar_bindings", "lease_key")  # SQLite 3.35+: in place

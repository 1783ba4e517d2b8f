"""calendar leases per mailbox: a lease key shared by the bindings of one mailbox

Revision ID: 0021_i17b
Revises: 0014_i16a, 0016_i17, 0017_i18, 0018_i19a, 0019_i19b

Outlook allows 4 concurrent requests per mailbox, whichever calendar they go
to: all bindings with the same lease key are leased to one worker at a time.
The worker fills the key in from the binding's connector (NULL until then:
the binding is leased on its own).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_i17b"
down_revision = ("0014_i16a", "0016_i17", "0017_i18", "0018_i19a", "0019_i19b")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.add_column(sa.Column("lease_key", sa.String(length=1200), nullable=True))
        batch.create_index("ix_calendar_bindings_lease_key", ["lease_key"])


def downgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.drop_index("ix_calendar_bindings_lease_key")
        batch.drop_column("lease_key")

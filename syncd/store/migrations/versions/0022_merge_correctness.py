"""merge the seen-event keys, sealed manage links and mailbox lease key branches

Revision ID: 0022_merge_correctness
Revises: 0013_seen_event_keys, 0015_sealed_manage_links, 0021_mailbox_lease_key
"""

from __future__ import annotations

revision = "0022_merge_correctness"
down_revision = ("0013_seen_event_keys", "0015_sealed_manage_links", "0021_mailbox_lease_key")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

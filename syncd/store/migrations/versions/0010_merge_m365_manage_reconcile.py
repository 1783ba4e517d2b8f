"""merge binding state, self-service, reconciliation and Graph subscriptions (all from 0004)

Revision ID: 0010
Revises: 0005_binding_state, 0006_manage, 0007_reconcile, 0009_graph_subscriptions
"""

from __future__ import annotations

revision = "0010"
down_revision = ("0005_binding_state", "0006_manage", "0007_reconcile", "0009_graph_subscriptions")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""readiness_probe: the row /readyz writes, so a database that refuses writes is not ready

Revision ID: 0018_readiness_probe
Revises: 0011_manage_indexes

A SELECT answers on a full disk or a read-only database while every booking
write fails; /readyz updates this one row to find out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_readiness_probe"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    probe = op.create_table(
        "readiness_probe",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("probed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(probe, [{"id": 1, "probed_at": None}])


def downgrade() -> None:
    op.drop_table("readiness_probe")

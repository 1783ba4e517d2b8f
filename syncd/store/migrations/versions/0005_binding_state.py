"""calendar bindings show their state: ok, paused or auth_error

Revision ID: 0005_binding_state
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_binding_state"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="ok")
        )
    # Bindings held back by refused credentials before this column existed.
    op.execute(
        "UPDATE calendar_bindings SET state = 'auth_error' "
        "WHERE paused_until IS NOT NULL AND last_error LIKE 'AuthError:%'"
    )
    op.execute(
        "UPDATE calendar_bindings SET state = 'paused' "
        "WHERE paused_until IS NOT NULL AND state = 'ok'"
    )


def downgrade() -> None:
    with op.batch_alter_table("calendar_bindings") as batch:
        batch.drop_column("state")

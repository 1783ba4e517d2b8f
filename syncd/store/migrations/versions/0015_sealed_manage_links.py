"""mail_outbox.manage_link: customers' manage links sealed, out of the payload

Revision ID: 0015_sealed_manage_links
Revises: 0011_manage_indexes

Links used to be kept in the clear in `payload["manage_url"]`, also after
sending. They leave the payload: a sent message keeps none, and a waiting one
keeps it as a `plain:` link in the new column (the migration has no manage
secret to seal it with), which the sender reads and erases once it is sent.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_sealed_manage_links"
down_revision = "0011_manage_indexes"
branch_labels = None
depends_on = None

_OUTBOX = sa.table(
    "mail_outbox",
    sa.column("id", sa.Integer()),
    sa.column("state", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("manage_link", sa.Text()),
)


def upgrade() -> None:
    op.add_column("mail_outbox", sa.Column("manage_link", sa.Text(), nullable=True))
    connection = op.get_bind()
    for row_id, state, payload in connection.execute(
        sa.select(_OUTBOX.c.id, _OUTBOX.c.state, _OUTBOX.c.payload)
    ):
        if isinstance(payload, dict) and "manage_url" in payload:
            connection.execute(_moved(row_id, state, payload))


def _moved(row_id: int, state: str, payload: dict[str, Any]) -> sa.Update:
    link = payload.pop("manage_url")
    kept = f"plain:{link}" if link and state != "sent" else None
    return (
        sa.update(_OUTBOX).where(_OUTBOX.c.id == row_id)
        .values(payload=payload, manage_link=kept)
    )


def downgrade() -> None:
    op.drop_column("mail_outbox", "manage_link")  # SQLite 3.35+: in place

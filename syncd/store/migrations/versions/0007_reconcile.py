"""reconciliation: rules per merchant and service, watch state, seen events, busy time, conflicts

Revision ID: 0007_reconcile
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0007_reconcile"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = syncd.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    _add_rule_columns()
    _create_states()
    _create_seen_events()
    _create_observed_busy()
    _create_conflicts()


def _add_rule_columns() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reconcile_rule", sa.String(length=16), nullable=False,
                      server_default="booking_wins")
        )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reconcile_rule", sa.String(length=16), nullable=True))


def _binding_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["binding_id"], ["calendar_bindings.id"],
        name=op.f(f"fk_{table}_binding_id_calendar_bindings"),
    )


def _create_states() -> None:
    op.create_table(
        "reconcile_states",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("window_start", UTC_DATETIME, nullable=True),
        sa.Column("window_end", UTC_DATETIME, nullable=True),
        sa.Column("next_pass_at", UTC_DATETIME, nullable=False),
        sa.Column("last_pass_at", UTC_DATETIME, nullable=True),
        sa.Column("last_complete_at", UTC_DATETIME, nullable=True),
        sa.Column("last_reset_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        _binding_fk("reconcile_states"),
        sa.PrimaryKeyConstraint("binding_id", name=op.f("pk_reconcile_states")),
    )
    with op.batch_alter_table("reconcile_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_states_next_pass_at"), ["next_pass_at"], unique=False
        )


def _create_seen_events() -> None:
    op.create_table(
        "seen_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.String(length=2000), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        _binding_fk("seen_events"),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_seen_events_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_events")),
        sa.UniqueConstraint(
            "binding_id", "remote_id", name=op.f("uq_seen_events_binding_id_remote_id")
        ),
    )


def _create_observed_busy() -> None:
    op.create_table(
        "observed_busy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seen_event_id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("start", UTC_DATETIME, nullable=False),
        sa.Column("end", UTC_DATETIME, nullable=False),
        _binding_fk("observed_busy"),
        sa.ForeignKeyConstraint(
            ["seen_event_id"], ["seen_events.id"],
            name=op.f("fk_observed_busy_seen_event_id_seen_events"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_observed_busy_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_busy")),
    )
    with op.batch_alter_table("observed_busy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observed_busy_seen_event_id"), ["seen_event_id"], unique=False
        )
        batch_op.create_index("ix_observed_busy_staff", ["staff_id", "start"], unique=False)


def _create_conflicts() -> None:
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("remote_id", sa.String(length=2000), nullable=True),
        sa.Column("booking_side", sa.JSON(), nullable=False),
        sa.Column("calendar_side", sa.JSON(), nullable=False),
        sa.Column("detected_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _binding_fk("conflicts"),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_conflicts_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_conflicts_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_conflicts_open_key")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conflicts_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(
            "ix_conflicts_merchant", ["merchant_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_merchant")
        batch_op.drop_index(batch_op.f("ix_conflicts_booking_id"))
    op.drop_table("conflicts")
    with op.batch_alter_table("observed_busy", schema=None) as batch_op:
        batch_op.drop_index("ix_observed_busy_staff")
        batch_op.drop_index(batch_op.f("ix_observed_busy_seen_event_id"))
    op.drop_table("observed_busy")
    op.drop_table("seen_events")
    with op.batch_alter_table("reconcile_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_states_next_pass_at"))
    op.drop_table("reconcile_states")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("reconcile_rule")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("reconcile_rule")

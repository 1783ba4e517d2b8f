"""customer self-service: service rules, booking rule snapshots, manage links, busy cache

Revision ID: 0006_manage
Revises: 0004

Services that exist already keep customers away from bookings staff made for
them (`manage_staff_bookings` false); existing bookings get the snapshot the
service's settings give them now: web bookings may be managed, bookings staff
made may not.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0006_manage"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = syncd.store.models.UTCDateTime(timezone=True)
_SERVICE_COLUMNS = (
    ("manage_web_bookings", sa.Boolean(), sa.true()),
    ("manage_staff_bookings", sa.Boolean(), sa.false()),
    ("allow_cancel", sa.Boolean(), sa.true()),
    ("allow_reschedule", sa.Boolean(), sa.true()),
    ("allow_change_staff", sa.Boolean(), sa.false()),
    ("manage_cutoff_hours", sa.Integer(), sa.text("24")),
    ("slot_interval_minutes", sa.Integer(), sa.text("15")),
    ("min_lead_minutes", sa.Integer(), sa.text("60")),
    ("max_advance_days", sa.Integer(), sa.text("60")),
)
_EXISTING_RULES = {
    "web": {"enabled": True, "cancel": True, "reschedule": True, "change_staff": False,
            "cutoff_hours": 24, "booking_choice": None},
    "staff": {"enabled": False, "cancel": True, "reschedule": True, "change_staff": False,
              "cutoff_hours": 24, "booking_choice": None},
}


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite cannot drop a table other rows refer to
    # (services, bookings) while foreign keys are enforced.
    for name, kind, default in _SERVICE_COLUMNS:
        op.add_column("services", sa.Column(name, kind, nullable=False, server_default=default))
    op.add_column("bookings", sa.Column("manage_rules", sa.JSON(), nullable=True))
    _existing_rows_stay_closed_to_staff_made_bookings()
    _create_service_staff()
    _create_manage_tokens()
    _create_busy_cache()


def _existing_rows_stay_closed_to_staff_made_bookings() -> None:
    op.execute(sa.text("UPDATE services SET manage_staff_bookings = :off").bindparams(off=False))
    bookings = sa.table("bookings", sa.column("origin", sa.String()),
                        sa.column("manage_rules", sa.JSON()))
    for origin, rules in _EXISTING_RULES.items():
        op.execute(bookings.update().where(bookings.c.origin == origin)
                   .values(manage_rules=rules))


def _create_service_staff() -> None:
    op.create_table(
        "service_staff",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_staff_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_service_staff_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("service_id", "staff_id", name=op.f("pk_service_staff")),
    )
    with op.batch_alter_table("service_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_staff_staff_id"), ["staff_id"], unique=False)


def _create_manage_tokens() -> None:
    op.create_table(
        "manage_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_manage_tokens_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manage_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_manage_tokens_token_hash")),
    )
    with op.batch_alter_table("manage_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manage_tokens_booking_id"), ["booking_id"], unique=False
        )


def _create_busy_cache() -> None:
    op.create_table(
        "busy_cache",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("range_start", UTC_DATETIME, nullable=False),
        sa.Column("range_end", UTC_DATETIME, nullable=False),
        sa.Column("fetched_at", UTC_DATETIME, nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"], ["calendar_bindings.id"],
            name=op.f("fk_busy_cache_binding_id_calendar_bindings"),
        ),
        sa.PrimaryKeyConstraint("binding_id", "range_start", name=op.f("pk_busy_cache")),
    )


def downgrade() -> None:
    op.drop_table("busy_cache")
    with op.batch_alter_table("manage_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manage_tokens_booking_id"))
    op.drop_table("manage_tokens")
    with op.batch_alter_table("service_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_staff_staff_id"))
    op.drop_table("service_staff")
    op.drop_column("bookings", "manage_rules")  # SQLite 3.35+ drops columns in place
    for name, _, _ in reversed(_SERVICE_COLUMNS):
        op.drop_column("services", name)

"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syncd.store.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("contact_text", sa.Text(), nullable=False),
        sa.Column("booking_page_url", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("key", name=op.f("uq_merchants_key")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_services_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("merchant_id", "key", name=op.f("uq_services_merchant_id_key")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("working_hours", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_staff_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("merchant_id", "key", name=op.f("uq_staff_merchant_id_key")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("start", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("customer_timezone", sa.String(length=64), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column("customer_phone", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("cloned_from_id", sa.Integer(), nullable=True),
        sa.Column("created_at", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloned_from_id"], ["bookings.id"], name=op.f("fk_bookings_cloned_from_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_bookings_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_bookings_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_bookings_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("merchant_id", "key", name=op.f("uq_bookings_merchant_id_key")),
        sa.UniqueConstraint("uid", name=op.f("uq_bookings_uid")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "calendar_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", syncd.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_until", syncd.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_calendar_bindings_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_bindings")),
        sa.UniqueConstraint(
            "connector", "calendar_id", name=op.f("uq_calendar_bindings_connector_calendar_id")
        ),
        sa.UniqueConstraint("staff_id", "key", name=op.f("uq_calendar_bindings_staff_id_key")),
    )
    op.create_table(
        "mirrors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("desired", sa.String(length=8), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("actual", sa.String(length=8), nullable=False),
        sa.Column("actual_version", sa.Integer(), nullable=True),
        sa.Column("remote_id", sa.String(length=2000), nullable=True),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("remote_may_exist", sa.Boolean(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", syncd.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["calendar_bindings.id"],
            name=op.f("fk_mirrors_binding_id_calendar_bindings"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_mirrors_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirrors")),
        sa.UniqueConstraint(
            "booking_id", "binding_id", name=op.f("uq_mirrors_booking_id_binding_id")
        ),
    )
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mirrors_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(
            "ix_mirrors_due", ["pending", "binding_id", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.drop_index("ix_mirrors_due")
        batch_op.drop_index(batch_op.f("ix_mirrors_booking_id"))

    op.drop_table("mirrors")
    op.drop_table("calendar_bindings")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_staff_id"))

    op.drop_table("bookings")
    op.drop_table("staff")
    op.drop_table("services")
    op.drop_table("merchants")

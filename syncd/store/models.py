"""The tables syncd keeps. Every datetime is stored as aware UTC.

A booking's calendar events are tracked by `Mirror` rows, one per booking and
bound calendar, holding what the calendar should show (desired) and what
syncd last knows it shows (actual). The worker converges the two; see
syncd/worker/converge.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from syncd.timeutil import as_utc, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out, on SQLite (which forgets offsets) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Origin(StrEnum):
    WEB = "web"  # the customer booked online
    STAFF = "staff"  # made by an admin on the customer's behalf


class Presence(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class BindingState(StrEnum):
    """How a bound calendar fares; shown in the API."""

    OK = "ok"
    PAUSED = "paused"  # held back after an outage, retried with backoff
    AUTH_ERROR = "auth_error"  # credentials or permissions refused, retried slowly


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    contact_text: Mapped[str] = mapped_column(Text, default="")
    booking_page_url: Mapped[str | None] = mapped_column(String(2000))
    # what happens when a staff calendar disagrees (syncd.reconcile.models.Rule)
    reconcile_rule: Mapped[str] = mapped_column(String(16), default="booking_wins")


# which staff members deliver a service: the ones a customer may move a booking to
service_staff = Table(
    "service_staff",
    Base.metadata,
    Column("service_id", ForeignKey("services.id"), primary_key=True),
    Column("staff_id", ForeignKey("staff.id"), primary_key=True, index=True),
)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str] = mapped_column(String(500), default="")
    # the customer's reminders, kept with each booking when it is made
    reminder_minutes_before: Mapped[list[int]] = mapped_column(JSON, default=list)
    follow_up_minutes_after: Mapped[int | None] = mapped_column(Integer)
    # a rating request this long after the end (None: none is sent)
    rating_request_minutes_after: Mapped[int | None] = mapped_column(Integer)
    # overrides the merchant's reconcile_rule for this service's bookings; None: the merchant's
    reconcile_rule: Mapped[str | None] = mapped_column(String(16))
    # customer self-service (syncd/manage): copied into each booking's rules when it is made
    manage_web_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    manage_staff_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_cancel: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_reschedule: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_change_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    manage_cutoff_hours: Mapped[int] = mapped_column(Integer, default=24)
    # which start times customers are offered when they reschedule
    slot_interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    min_lead_minutes: Mapped[int] = mapped_column(Integer, default=60)
    max_advance_days: Mapped[int] = mapped_column(Integer, default=60)

    delivered_by: Mapped[list[Staff]] = relationship(
        secondary=service_staff, order_by=lambda: Staff.key
    )


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "17:00"]], ...} in the staff member's own time zone
    working_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)

    bindings: Mapped[list[CalendarBinding]] = relationship(back_populates="staff")


class CalendarBinding(Base):
    """A staff member's calendar that receives their bookings; leased by workers."""

    __tablename__ = "calendar_bindings"
    __table_args__ = (
        UniqueConstraint("staff_id", "key"),
        UniqueConstraint("connector", "calendar_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    key: Mapped[str] = mapped_column(String(128))
    # a [connectors.<name>] table, or "account.<id>" for a stored account (account_id)
    connector: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("connector_accounts.id", ondelete="RESTRICT"), index=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1000))
    # where the calendar lives whichever account reaches it (connectors.calendar_identity),
    # held while the binding is active: a calendar bound twice would get every booking twice
    calendar_identity: Mapped[str | None] = mapped_column(String(1200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    # the fencing token: counted up on every acquisition (syncd/store/work.py)
    lease_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # bindings sharing it are leased to one worker at a time (one mailbox: Outlook's
    # limits are per mailbox); filled in by the worker from the connector
    lease_key: Mapped[str | None] = mapped_column(String(1200), index=True)
    paused_until: Mapped[datetime | None]  # whole-calendar backoff after an outage
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=BindingState.OK)

    staff: Mapped[Staff] = relationship(back_populates="bindings")
    account: Mapped[ConnectorAccount | None] = relationship()


class AccountState(StrEnum):
    OK = "ok"
    AUTH_ERROR = "auth_error"  # the service refused the credential


class ConnectorAccount(Base):
    """A calendar account stored as data (the API's /accounts) rather than a config table;
    its bindings name it `account.<id>`."""

    __tablename__ = "connector_accounts"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    # the kind's Settings without secrets, as JSON text
    settings: Mapped[str] = mapped_column(Text)
    # a Fernet token of the secret (syncd.store.sealing); never the secret itself
    credential: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # who connected it
    state: Mapped[str] = mapped_column(String(16), default=AccountState.OK)
    last_error: Mapped[str | None] = mapped_column(Text)
    auth_error_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    # bumped on every change of settings or credential: processes rebuild what they hold
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key"),
        # the bookings that block a staff member's slots (syncd.manage.availability)
        Index("ix_bookings_staff_end", "staff_id", "end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(128))  # the platform's own id
    origin: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    customer_timezone: Mapped[str] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    paid: Mapped[bool] = mapped_column(Boolean, default=False)  # refunds are the merchant's
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # bumped when time, staff or status changes: the event's SEQUENCE
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    cloned_from_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    # the self-service rules in force when it was made (syncd.domain.manage_rules.ManageRules)
    manage_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    merchant: Mapped[Merchant] = relationship()
    service: Mapped[Service] = relationship()
    staff: Mapped[Staff] = relationship()


class Mirror(Base):
    """One booking on one bound calendar: desired versus actual."""

    __tablename__ = "mirrors"
    __table_args__ = (
        UniqueConstraint("booking_id", "binding_id"),
        Index("ix_mirrors_due", "pending", "binding_id", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"))
    desired: Mapped[str] = mapped_column(String(8))
    desired_version: Mapped[int] = mapped_column(Integer)
    actual: Mapped[str] = mapped_column(String(8), default=Presence.ABSENT)
    actual_version: Mapped[int | None] = mapped_column(Integer)
    remote_id: Mapped[str | None] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(200))
    # set before a write is attempted, cleared only once the event is known gone:
    # a crash between the server's write and our record must not orphan an event
    remote_may_exist: Mapped[bool] = mapped_column(Boolean, default=False)
    # EventSpec.generation: bumped whenever the event is known gone and made anew
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    booking: Mapped[Booking] = relationship()
    binding: Mapped[CalendarBinding] = relationship()


class ManageToken(Base):
    """A manage link: only the SHA-256 of its random token is kept."""

    __tablename__ = "manage_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class BusyCache(Base):
    """Busy time read from one bound calendar for one stretch of days, reused briefly."""

    __tablename__ = "busy_cache"

    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"), primary_key=True)
    range_start: Mapped[datetime] = mapped_column(primary_key=True)
    range_end: Mapped[datetime]
    fetched_at: Mapped[datetime]
    # [[start, end], ...] as ISO 8601 UTC
    intervals: Mapped[list[list[str]]] = mapped_column(JSON, default=list)

"""The shapes of the API's answers, for the OpenAPI document.

The answers themselves are built in syncd.api.serialize and beside the
capabilities (conflicts, webhooks, ratings); these models describe them field
for field, and forbid anything more, so an answer that grows a field the
document does not show fails the schema tests (tests/api/test_openapi_live.py).
Times are ISO 8601 in UTC with an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from syncd.schemas import ReconcileRule


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    code: str  # e.g. invalid_input, not_found, conflict, unauthorized, body_too_large
    message: str
    fields: dict[str, str]  # for invalid_input: each bad field's dotted path and why


class ErrorAnswer(Answer):
    error: ErrorDetail


class MerchantOut(Answer):
    key: str
    name: str
    timezone: str
    contact_text: str
    booking_page_url: str | None
    reconcile_rule: ReconcileRule


class ServiceOut(Answer):
    key: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    requires_approval: bool
    location: str
    reminder_minutes_before: list[int]
    follow_up_minutes_after: int | None
    rating_request_minutes_after: int | None
    reconcile_rule: ReconcileRule | None  # None: the merchant's
    manage_web_bookings: bool
    manage_staff_bookings: bool
    allow_cancel: bool
    allow_reschedule: bool
    allow_change_staff: bool
    manage_cutoff_hours: int
    slot_interval_minutes: int
    min_lead_minutes: int
    max_advance_days: int
    staff: list[str]


class StaffOut(Answer):
    key: str
    name: str
    email: str | None
    timezone: str
    working_hours: dict[str, list[list[str]]]


class BindingOut(Answer):
    key: str
    connector: str
    account: str | None  # the stored account's key, for a calendar of one
    calendar_id: str
    active: bool
    state: Literal["ok", "paused", "auth_error"]
    paused_until: datetime | None
    last_error: str | None
    consecutive_failures: int
    pending_mirrors: int
    dead_mirrors: int


class BindingList(Answer):
    items: list[BindingOut]


class AccountOut(Answer):
    """A stored calendar account; its credential is never shown, only whether it has one."""

    key: str
    kind: str
    settings: dict[str, Any]
    has_credential: bool
    staff: str | None
    state: Literal["ok", "auth_error"]
    last_error: str | None
    version: int
    active_bindings: int
    created_at: datetime
    updated_at: datetime


class AccountPage(Answer):
    items: list[AccountOut]
    next_cursor: str | None


class MirrorOut(Answer):
    """A booking's event on one staff calendar: what is wanted and what was written."""

    binding: str
    staff: str
    id: int
    desired: Literal["present", "absent"]
    actual: Literal["present", "absent"]
    pending: bool
    dead: bool
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    remote_id: str | None


class MirrorListingOut(MirrorOut):
    merchant: str
    booking: str


class MirrorPage(Answer):
    items: list[MirrorListingOut]
    next_cursor: str | None


class CustomerOut(Answer):
    name: str
    email: str | None
    phone: str | None
    timezone: str


class RatingOut(Answer):
    stars: int
    comment: str
    rated_at: datetime
    changed_at: datetime


class BookingOut(Answer):
    key: str
    merchant: str
    origin: Literal["web", "staff"]
    service: str
    staff: str
    start: datetime
    end: datetime
    customer: CustomerOut
    status: Literal["pending", "confirmed", "cancelled"]
    version: int
    sequence: int
    notes: str
    paid: bool
    cloned_from: str | None
    manage_rules: dict[str, Any] | None  # the self-service rules in force when it was made
    rating: RatingOut | None
    created_at: datetime
    updated_at: datetime


class BookingDetail(BookingOut):
    mirrors: list[MirrorOut]


class BookingPage(Answer):
    items: list[BookingOut]
    next_cursor: str | None


class ManageLinkOut(Answer):
    url: str


class RevokedOut(Answer):
    revoked: int


class ConnectLinkOut(Answer):
    url: str
    expires_at: datetime
    emailed: bool  # queued to the staff member's address (False: they have none)


class ConsentLinkOut(Answer):
    url: str  # Microsoft's admin consent page
    expires_at: datetime


class ConflictOut(Answer):
    id: int
    merchant: str
    booking: str
    staff: str
    calendar: str
    kind: str  # moved, edited, deleted, missing, double_booked
    status: Literal["open", "resolved"]
    rule: str
    booking_side: dict[str, Any]
    calendar_side: dict[str, Any]
    detected_at: datetime
    last_seen_at: datetime | None
    times_seen: int
    resolved_at: datetime | None
    resolution: str | None
    resolved_by: str | None
    reason: str | None


class ConflictPage(Answer):
    items: list[ConflictOut]
    next_cursor: str | None


class WatchStateOut(Answer):
    """A calendar's watch state; only `watched` (false) before its first pass is planned."""

    watched: bool
    next_pass_at: datetime | None = None
    last_pass_at: datetime | None = None
    last_complete_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    passes: int | None = None
    failures: int | None = None
    last_error: str | None = None
    last_reset_reason: str | None = None
    unreadable_events: list[dict[str, str]] | None = None


class NoticeEventsOut(Answer):
    new: bool
    rescheduled: bool
    cancelled: bool
    conflict: bool
    rated: bool
    unreadable: bool


class MerchantNotificationsOut(Answer):
    addresses: list[str]
    reply_to: str | None
    events: NoticeEventsOut


class StaffNotificationsOut(Answer):
    events: NoticeEventsOut


class OutboxOut(Answer):
    id: int
    merchant: str
    booking: str | None
    kind: str
    audience: str
    to: str
    state: Literal["queued", "sending", "sent", "failed", "withdrawn"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    message_id: str | None
    queued_at: datetime | None
    sent_at: datetime | None


class OutboxPage(Answer):
    items: list[OutboxOut]
    next_cursor: str | None


class RatingItem(RatingOut):
    booking: str
    service: str
    staff: str
    start: datetime


class RatingPage(Answer):
    items: list[RatingItem]
    next_cursor: str | None


class WebhookOut(Answer):
    key: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_valid_until: datetime | None
    pending_deliveries: int
    failed_deliveries: int
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str  # the signing secret (whsec_...), shown this once


class WebhookList(Answer):
    items: list[WebhookOut]


class DeliveryOut(Answer):
    id: int
    webhook_id: str
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: dict[str, Any]


class DeliveryPage(Answer):
    items: list[DeliveryOut]
    next_cursor: str | None


class OpenApiDocument(BaseModel):
    """This API's OpenAPI document (the schema of a schema is OpenAPI's own)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]

"""Rows as the JSON the API returns. Datetimes are ISO 8601 in UTC with an offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.manage.rating_models import BookingRating
from syncd.manage.ratings import rating_json
from syncd.store.models import Booking, CalendarBinding, Merchant, Mirror, Service, Staff
from syncd.timeutil import utc_iso_or_none

JSON = dict[str, Any]


@dataclass(frozen=True)
class MirrorView:
    """A mirror with the keys that name it from the outside."""

    mirror: Mirror
    merchant: str
    booking: str
    staff: str
    binding: str


@dataclass(frozen=True)
class BookingView:
    """A booking with the keys of the rows it refers to."""

    booking: Booking
    merchant: str
    service: str
    staff: str
    cloned_from: str | None
    rating: BookingRating | None = None


@dataclass(frozen=True)
class BindingCounts:
    pending: int = 0
    dead: int = 0


def merchant_json(merchant: Merchant) -> JSON:
    return {
        "key": merchant.key,
        "name": merchant.name,
        "timezone": merchant.timezone,
        "contact_text": merchant.contact_text,
        "booking_page_url": merchant.booking_page_url,
        "reconcile_rule": merchant.reconcile_rule,
    }


def service_json(service: Service) -> JSON:
    return {
        "key": service.key,
        "name": service.name,
        "duration_minutes": service.duration_minutes,
        "buffer_before_minutes": service.buffer_before_minutes,
        "buffer_after_minutes": service.buffer_after_minutes,
        "requires_approval": service.requires_approval,
        "location": service.location,
        "reminder_minutes_before": service.reminder_minutes_before,
        "follow_up_minutes_after": service.follow_up_minutes_after,
        "rating_request_minutes_after": service.rating_request_minutes_after,
        "reconcile_rule": service.reconcile_rule,  # None: the merchant's
        "manage_web_bookings": service.manage_web_bookings,
        "manage_staff_bookings": service.manage_staff_bookings,
        "allow_cancel": service.allow_cancel,
        "allow_reschedule": service.allow_reschedule,
        "allow_change_staff": service.allow_change_staff,
        "manage_cutoff_hours": service.manage_cutoff_hours,
        "slot_interval_minutes": service.slot_interval_minutes,
        "min_lead_minutes": service.min_lead_minutes,
        "max_advance_days": service.max_advance_days,
        "staff": [staff.key for staff in service.delivered_by],
    }


def staff_json(staff: Staff) -> JSON:
    return {
        "key": staff.key,
        "name": staff.name,
        "email": staff.email,
        "timezone": staff.timezone,
        "working_hours": staff.working_hours,
    }


def binding_json(binding: CalendarBinding, counts: BindingCounts) -> JSON:
    return {
        "key": binding.key,
        "connector": binding.connector,  # account.<id> for a stored account's calendar
        "account": None if binding.account is None else binding.account.key,
        "calendar_id": binding.calendar_id,
        "active": binding.active,
        "state": binding.state,  # ok, paused, auth_error
        "paused_until": utc_iso_or_none(binding.paused_until),
        "last_error": binding.last_error,
        "consecutive_failures": binding.consecutive_failures,
        "pending_mirrors": counts.pending,
        "dead_mirrors": counts.dead,
    }


def _mirror_state(mirror: Mirror) -> JSON:
    return {
        "id": mirror.id,
        "desired": mirror.desired,
        "actual": mirror.actual,
        "pending": mirror.pending,
        "dead": mirror.dead,
        "attempts": mirror.attempts,
        "next_attempt_at": utc_iso_or_none(mirror.next_attempt_at),
        "last_error": mirror.last_error,
        "remote_id": mirror.remote_id,
    }


def mirror_json(view: MirrorView) -> JSON:
    """A mirror seen from its booking: which staff member's calendar it is on."""
    return {"binding": view.binding, "staff": view.staff, **_mirror_state(view.mirror)}


def mirror_listing_json(view: MirrorView) -> JSON:
    """A mirror seen across merchants: also which booking it shows."""
    return {"merchant": view.merchant, "booking": view.booking, **mirror_json(view)}


def customer_json(booking: Booking) -> JSON:
    return {
        "name": booking.customer_name,
        "email": booking.customer_email,
        "phone": booking.customer_phone,
        "timezone": booking.customer_timezone,
    }


def booking_json(view: BookingView) -> JSON:
    booking = view.booking
    return {
        "key": booking.key,
        "merchant": view.merchant,
        "origin": booking.origin,
        "service": view.service,
        "staff": view.staff,
        "start": utc_iso_or_none(booking.start),
        "end": utc_iso_or_none(booking.end),
        "customer": customer_json(booking),
        "status": booking.status,
        "version": booking.version,
        "sequence": booking.sequence,
        "notes": booking.notes,
        "paid": booking.paid,
        "cloned_from": view.cloned_from,
        "manage_rules": booking.manage_rules,  # self-service rules in force when it was made
        "rating": rating_json(view.rating),  # the customer's, once given
        "created_at": utc_iso_or_none(booking.created_at),
        "updated_at": utc_iso_or_none(booking.updated_at),
    }

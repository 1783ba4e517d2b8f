"""Conflicts and watch state as the API and the CLI show them (times in UTC, ISO 8601)."""

from __future__ import annotations

from typing import Any

from syncd.reconcile.models import ReconcileState
from syncd.reconcile.resolve import ConflictView
from syncd.timeutil import utc_iso_or_none


def conflict_json(view: ConflictView) -> dict[str, Any]:
    conflict = view.conflict
    calendar = {k: v for k, v in conflict.calendar_side.items() if k != "etag"}
    return {
        "id": conflict.id,
        "merchant": view.merchant,
        "booking": view.booking,
        "staff": view.staff,
        "calendar": view.calendar,
        "kind": conflict.kind,
        "status": conflict.status,
        "rule": conflict.rule,
        "booking_side": conflict.booking_side,
        "calendar_side": calendar,
        "detected_at": utc_iso_or_none(conflict.detected_at),
        "last_seen_at": utc_iso_or_none(conflict.last_seen_at),
        "times_seen": conflict.times_seen,
        "resolved_at": utc_iso_or_none(conflict.resolved_at),
        "resolution": conflict.resolution,
        "resolved_by": conflict.resolved_by,
        "reason": conflict.reason,
    }


def state_json(state: ReconcileState | None) -> dict[str, Any]:
    """A calendar's watch state; never the cursor (it may embed the server's paths)."""
    if state is None:
        return {"watched": False}
    return {
        "watched": True,
        "next_pass_at": utc_iso_or_none(state.next_pass_at),
        "last_pass_at": utc_iso_or_none(state.last_pass_at),
        "last_complete_at": utc_iso_or_none(state.last_complete_at),
        "window_start": utc_iso_or_none(state.window_start),
        "window_end": utc_iso_or_none(state.window_end),
        "passes": state.passes,
        "failures": state.failures,
        "last_error": state.last_error,
        "last_reset_reason": state.last_reset_reason,
        "unreadable_events": state.unreadable or [],
    }


def conflict_line(view: ConflictView) -> str:
    """One line of `syncd conflicts list`."""
    conflict = view.conflict
    booking, calendar = conflict.booking_side, conflict.calendar_side
    seen = f"{calendar.get('start') or 'gone'}"
    settled = f" {conflict.resolution}" if conflict.resolution else ""
    return (
        f"  {conflict.id} {view.merchant}/{view.booking} {view.staff}/{view.calendar} "
        f"{conflict.kind} {conflict.status}{settled} booking={booking.get('start')} "
        f"calendar={seen} seen={conflict.times_seen}"
    )

"""The `[reconcile]` table: how often each bound calendar is watched, and over which window."""

from __future__ import annotations

from pydantic import Field

from syncd.config.push import PushSettings
from syncd.config.section import Section


class ReconcileSettings(Section):
    enabled: bool = True
    # between two passes over one calendar; a pass is also made at once when one is asked for
    interval_seconds: float = Field(default=300.0, gt=0)
    # seconds: a complete listing at least this often, whatever the change feed's cursor says
    # (some servers answer a stale or unknown sync-token as if it were current, and never
    # report what was deleted meanwhile); deletions they hide are seen at most this late
    full_listing_interval: float = Field(default=3600.0, gt=0)
    # the watched window (foreign busy time, double bookings): from a little before now ...
    lookback_days: float = Field(default=1.0, ge=0)
    # ... to this far ahead; moved forward every window_renew_days (a complete listing)
    horizon_days: float = Field(default=90.0, gt=0, le=3650)
    window_renew_days: float = Field(default=7.0, gt=0)
    # a pass that would find more than this share of syncd's live events on a calendar gone
    # at once reads a few of them directly first, and fails if they are still there
    missing_share_to_verify: float = Field(default=0.2, gt=0, le=1)
    # [reconcile.graph]: change notifications pushed by the services (syncd/reconcile/push/);
    # the table's name is the one operators' files have
    push: PushSettings = Field(default_factory=PushSettings, alias="graph")

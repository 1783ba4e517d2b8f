"""Which stretch of time a calendar is watched over (pure).

A change-feed cursor belongs to the window it was made for (Graph fixes the
window in its deltaLink), so the window stays put while it still covers
[now - lookback, now + horizon] and is moved forward only every
`window_renew_days`, which costs one complete listing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.base import ChangeWindow
from syncd.config.reconcile import ReconcileSettings


def window_for(
    now: datetime, settings: ReconcileSettings, current: ChangeWindow | None
) -> ChangeWindow:
    """`current` while it still covers what must be watched, else a new window from now."""
    wanted_start = now - timedelta(days=settings.lookback_days)
    wanted_end = now + timedelta(days=settings.horizon_days)
    if current is not None and current.start <= wanted_start and current.end >= wanted_end:
        return current
    renew = timedelta(days=settings.window_renew_days)
    return ChangeWindow(_whole_second(wanted_start), _whole_second(wanted_end + renew))


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)

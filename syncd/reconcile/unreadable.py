"""Events on a watched calendar that syncd sets apart as unreadable (a series that recurs
too often to expand, a date outside 1970-2200, data the parsers refuse), remembered on
the calendar's watch state so the merchant sees which event it is and why
(GET .../calendars/<key>/watch, "unreadable_events"), and counted in metrics
(syncd_reconcile_unreadable_events_total).

A delta names only what changed, so the list is kept between passes: an entry goes
when its event is read again, is removed, or a complete listing no longer shows it.
"""

from __future__ import annotations

import logging

from connectors.base import ChangeSet
from syncd.reconcile.models import ReconcileState

log = logging.getLogger("syncd.reconcile")
MAX_LISTED = 100  # entries kept on a calendar's state; the metric counts them all


def remember_unreadable(state: ReconcileState, answer: ChangeSet) -> int:
    """Bring the state's list of unreadable events up to date with the pass's answer;
    how many of them are newly set apart (the worker counts them in metrics)."""
    kept = {} if answer.complete else {e["event"]: e for e in state.unreadable or []}
    for gone in [*(e.ref.remote_id for e in answer.changed), *answer.removed]:
        kept.pop(gone, None)
    new = {
        ref.remote_id: {"event": ref.remote_id,
                        "reason": answer.unreadable_reasons.get(ref.remote_id, "unreadable")}
        for ref in answer.unreadable if ref.remote_id not in kept
    }
    if new:
        log.warning("reconcile pass set apart %d unreadable event(s)", len(new),
                    extra={"binding_id": state.binding_id})
    listed = [*kept.values(), *new.values()][:MAX_LISTED]
    if listed != (state.unreadable or []):
        state.unreadable = listed or None
    return len(new)

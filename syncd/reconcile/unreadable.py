"""Events on a watched calendar that syncd sets apart as unreadable (a series that recurs
too often to expand, a date outside 1970-2200, data the parsers refuse), remembered on
the calendar's watch state so the merchant sees which event it is and why
(GET .../calendars/<key>/reconcile, "unreadable_events"), and counted in metrics
(syncd_reconcile_unreadable_events_total).

A delta names only what changed, so the list is kept between passes: an entry goes
when its event is read again, is removed, or a complete listing no longer shows it.
An event is newly set apart (counted, and told of: syncd/notify/unreadable_notice.py)
when the list did not hold it, or held another version of it (its etag changed).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connectors.base import ChangeSet, RemoteRef, Unreadable
from syncd.notify.unreadable_notice import notify_unreadable
from syncd.reconcile.models import ReconcileState
from syncd.store.models import CalendarBinding
from syncd.webhooks.unreadable import emit_unreadable

log = logging.getLogger("syncd.reconcile")
MAX_LISTED = 100  # entries kept on a calendar's state; beyond them none is told of
MAX_SUMMARY = 120  # characters of an event's summary shown; the rest is cut
MAX_NAME = 300  # of its UID and of the reason
_SPACES = re.compile(r"\s+")

Entry = dict[str, Any]


def remember_unreadable(state: ReconcileState, answer: ChangeSet) -> list[Entry]:
    """Bring the state's list of unreadable events up to date with the pass's answer;
    the entries newly set apart (counted in metrics and told of)."""
    before = {e["event"]: e for e in state.unreadable or []}
    kept = {} if answer.complete else dict(before)
    for gone in [*(e.ref.remote_id for e in answer.changed), *answer.removed]:
        kept.pop(gone, None)
    found = [_entry(ref, answer.unreadable_details.get(ref.remote_id)) for ref in answer.unreadable]
    kept |= {e["event"]: e if _changed(before, e) else before[e["event"]] for e in found}
    listed = list(kept.values())[:MAX_LISTED]
    new = [entry for entry in listed if _changed(before, entry)]
    if new:
        log.warning("reconcile pass set apart %d unreadable event(s)", len(new),
                    extra={"binding_id": state.binding_id})
    if listed != (state.unreadable or []):
        state.unreadable = listed or None
    return new


def announce_unreadable(
    session: Session, binding: CalendarBinding, new: list[Entry], total: int, now: datetime
) -> None:
    """The merchant, the staff member and the platform told of the events a pass newly set
    apart, in the pass's transaction: one notice and one webhook event for them all."""
    if not new:
        return
    notify_unreadable(session, binding, new, total=total, now=now)
    emit_unreadable(session, binding, new, total=total)


def _changed(before: dict[str, Entry], entry: Entry) -> bool:
    """Not listed before, or listed in another version (without etags: for another reason)."""
    old = before.get(entry["event"])
    if old is None:
        return True
    if entry["etag"] or old.get("etag"):
        return bool(old.get("etag") != entry["etag"])
    return bool(old.get("reason") != entry["reason"])


def _entry(ref: RemoteRef, detail: Unreadable | None) -> Entry:
    detail = detail or Unreadable("unreadable")
    return {
        "event": ref.remote_id,
        "etag": ref.etag,
        "uid": shown(detail.uid, MAX_NAME),
        "summary": shown(detail.summary, MAX_SUMMARY),
        "reason": shown(detail.reason, MAX_NAME),
    }


def shown(text: str | None, limit: int) -> str | None:
    """`text` as one line fit to show: no control character, spaces collapsed, at most
    `limit` characters (cut with an ellipsis). Calendar data is anyone's to write."""
    if not text:
        return None
    printable = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    line = _SPACES.sub(" ", printable).strip()
    if len(line) <= limit:
        return line or None
    return line[: limit - 1].rstrip() + "…"

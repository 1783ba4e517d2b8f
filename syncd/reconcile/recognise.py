"""What a mirrored event's state means for its booking (pure: no I/O, no session).

Only times count: a hand-made change of the summary or description is the
staff member's business, and a changed etag alone is no drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.base import ObservedEvent, RemoteEvent, RemoteRef
from syncd.webhooks.emit import ConflictKind

DRIFT_KINDS = frozenset(
    {ConflictKind.MOVED, ConflictKind.EDITED, ConflictKind.DELETED, ConflictKind.MISSING}
)


@dataclass(frozen=True)
class CalendarSide:
    """A mirrored event as the calendar shows it now."""

    ref: RemoteRef
    start: datetime
    end: datetime
    cancelled: bool = False  # STATUS:CANCELLED: as good as deleted

    @classmethod
    def of(cls, event: ObservedEvent | RemoteEvent) -> CalendarSide:
        cancelled = isinstance(event, ObservedEvent) and event.cancelled
        return cls(event.ref, event.start, event.end, cancelled)


def drift(
    start: datetime, end: datetime, seen: CalendarSide | None, *, removal_reported: bool
) -> ConflictKind | None:
    """How the event differs from a booking at [start, end); None when it shows the booking.

    `seen` None: the event is gone. DELETED when the feed reported its removal,
    MISSING when a complete listing merely did not show it.
    """
    if seen is None:
        return ConflictKind.DELETED if removal_reported else ConflictKind.MISSING
    if seen.cancelled:
        return ConflictKind.DELETED
    if seen.start != start:
        return ConflictKind.MOVED
    if seen.end != end:
        return ConflictKind.EDITED
    return None

"""What each rule does with each kind of disagreement (pure).

    kind \\ rule        booking_wins   calendar_wins   flag
    moved, edited      rewrite        reschedule      flag
    deleted, missing   rewrite        flag            flag
    overlap            flag           flag            flag

A deletion never cancels a booking by itself: under calendar_wins it is a
conflict the merchant decides. An overlap with someone else's event cannot be
"put back" either way, so it is always a conflict.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from syncd.reconcile.models import Rule
from syncd.webhooks.emit import ConflictKind

MAX_BOOKING_LENGTH = timedelta(days=7)  # as syncd.schemas.MAX_BOOKING_LENGTH


class ConflictAction(StrEnum):
    REWRITE = "rewrite"  # the worker writes the booking's event again
    RESCHEDULE = "reschedule"  # the booking takes the event's time
    FLAG = "flag"  # an open conflict; the merchant and staff are told


_MOVES = frozenset({ConflictKind.MOVED, ConflictKind.EDITED})


def rule_for(merchant_rule: str, service_rule: str | None) -> Rule:
    """The service's own rule when it has one, else the merchant's."""
    return Rule(service_rule or merchant_rule)


def decide(kind: ConflictKind, rule: Rule) -> ConflictAction:
    if kind == ConflictKind.OVERLAP or rule == Rule.FLAG:
        return ConflictAction.FLAG
    if rule == Rule.BOOKING_WINS:
        return ConflictAction.REWRITE
    return ConflictAction.RESCHEDULE if kind in _MOVES else ConflictAction.FLAG


def can_take_time(start: datetime, end: datetime) -> bool:
    """Whether a booking may be moved to an event's [start, end) (else it is flagged)."""
    return start < end and end - start <= MAX_BOOKING_LENGTH

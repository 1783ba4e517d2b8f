"""Each Microsoft 365 calendar's change-notification subscription, as syncd keeps track of it.

    graph_subscriptions   one row per bound calendar: Graph's subscription id, when it
                          expires, the SHA-256 of its clientState (the secret itself is
                          only ever in Graph's hands and ours while creating it), and what
                          the lifecycle notifications asked for (a resync, a renewal)

The web handler (graph_webhook) checks notifications against the rows and makes
the calendar's pass due; the worker (graph_upkeep) creates and renews the
subscriptions under the calendar's lease, before a due pass.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from syncd.reconcile.models import ReconcileState
from syncd.reconcile.state import request_pass
from syncd.store.models import Base, CalendarBinding


class GraphSubscription(Base):
    __tablename__ = "graph_subscriptions"

    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"), primary_key=True)
    subscription_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    client_state_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256, hex
    expires_at: Mapped[datetime | None]
    resync_wanted: Mapped[bool] = mapped_column(Boolean, default=False)  # Graph missed some
    renew_wanted: Mapped[bool] = mapped_column(Boolean, default=False)  # reauthorization asked
    next_attempt_at: Mapped[datetime | None]  # after a failed create or renewal
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


def hashed(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


def _matches(row: GraphSubscription, client_state: object) -> bool:
    if row.client_state_hash is None or not isinstance(client_state, str):
        return False
    return hmac.compare_digest(row.client_state_hash, hashed(client_state))


# -- what the web handler does with a notification ---------------------------------


class Lifecycle(StrEnum):
    REMOVED = "subscriptionRemoved"
    MISSED = "missed"
    REAUTHORIZE = "reauthorizationRequired"


@dataclass(frozen=True)
class Notice:
    """One item of a notification POST, as far as syncd reads it."""

    subscription_id: str
    client_state: object
    lifecycle: str | None = None  # None: a change notification


def take_in(session: Session, notices: list[Notice]) -> list[Notice]:
    """Act on the notices whose subscription and clientState are known; the others, refused."""
    ids = {n.subscription_id for n in notices}
    query = select(GraphSubscription).where(GraphSubscription.subscription_id.in_(ids))
    rows = {row.subscription_id: row for row in session.scalars(query.with_for_update())}
    woken: set[int] = set()
    refused = []
    for notice in notices:
        row = rows.get(notice.subscription_id)
        if row is None or not _matches(row, notice.client_state):
            refused.append(notice)
            continue
        _lifecycle(row, notice.lifecycle)
        woken.add(row.binding_id)
    for binding_id in _mailbox_bindings(session, woken):
        request_pass(session, binding_id)
    return refused


def _lifecycle(row: GraphSubscription, event: str | None) -> None:
    if event == Lifecycle.REMOVED:  # Graph dropped it: the worker makes a new one
        row.subscription_id = row.client_state_hash = row.expires_at = None
        row.next_attempt_at = None
    elif event == Lifecycle.MISSED:
        row.resync_wanted = True
    elif event == Lifecycle.REAUTHORIZE:
        row.renew_wanted = True


def _mailbox_bindings(session: Session, binding_ids: set[int]) -> set[int]:
    """The active bindings on the mailboxes of `binding_ids` (a subscription covers them all)."""
    found: set[int] = set()
    for binding_id in binding_ids:
        binding = session.get_one(CalendarBinding, binding_id)
        mailbox = binding.calendar_id.partition("/")[0].lower()
        calendar = func.lower(CalendarBinding.calendar_id)
        query = select(CalendarBinding.id).where(
            CalendarBinding.connector == binding.connector,
            CalendarBinding.active.is_(True),
            or_(calendar == mailbox, calendar.startswith(mailbox + "/", autoescape=True)),
        )
        found |= set(session.scalars(query))
    return found


# -- what the worker does before a due pass -----------------------------------------


class SubscriptionAction(StrEnum):
    CREATE = "create"
    RENEW = "renew"


@dataclass(frozen=True)
class Upkeep:
    """What a calendar's subscription needs now."""

    action: SubscriptionAction | None
    subscription_id: str | None
    resync: bool


def upkeep_due(
    session: Session, binding_id: int, now: datetime, renew_before: timedelta
) -> Upkeep | None:
    """What to do before the calendar's pass; None when no pass is due or nothing is needed."""
    state = session.get(ReconcileState, binding_id)
    if state is not None and state.next_pass_at > now:
        return None
    row = _row(session, binding_id)
    action = _action(row, now, renew_before)
    if action is None and not row.resync_wanted:
        return None
    return Upkeep(action, row.subscription_id, row.resync_wanted)


def _action(
    row: GraphSubscription, now: datetime, renew_before: timedelta
) -> SubscriptionAction | None:
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return None
    if row.subscription_id is None or row.expires_at is None or row.expires_at <= now:
        return SubscriptionAction.CREATE
    if row.renew_wanted or row.expires_at - now <= renew_before:
        return SubscriptionAction.RENEW
    return None


def _row(session: Session, binding_id: int) -> GraphSubscription:
    row = session.get(GraphSubscription, binding_id, with_for_update=True)
    if row is None:
        row = GraphSubscription(binding_id=binding_id, resync_wanted=False, renew_wanted=False,
                                failures=0)
        session.add(row)
        session.flush()
    return row


def start_over(session: Session, binding_id: int) -> None:
    """Graph missed notifications: the next pass lists the whole window (cursor None)."""
    state = session.get(ReconcileState, binding_id, with_for_update=True)
    if state is not None:
        state.cursor = None
    _row(session, binding_id).resync_wanted = False


def record_subscription(
    session: Session, binding_id: int, subscription_id: str, expires: datetime,
    client_state_hash: str | None,
) -> None:
    """A subscription made (with its clientState's hash) or renewed (None: keep the hash)."""
    row = _row(session, binding_id)
    row.subscription_id, row.expires_at = subscription_id, expires
    if client_state_hash is not None:
        row.client_state_hash = client_state_hash
    row.renew_wanted, row.failures, row.last_error, row.next_attempt_at = False, 0, None, None


def forget_subscription(session: Session, binding_id: int) -> None:
    """Graph no longer has it: the next upkeep makes a new one."""
    row = _row(session, binding_id)
    row.subscription_id = row.client_state_hash = row.expires_at = None


def record_failure(
    session: Session, binding_id: int, error: str, now: datetime,
    backoff: Callable[[int], float],
) -> datetime:
    """Count a failed create or renewal; the next try waits `backoff(failures)` seconds."""
    row = _row(session, binding_id)
    row.failures += 1
    row.last_error = error
    row.next_attempt_at = now + timedelta(seconds=backoff(row.failures))
    return row.next_attempt_at

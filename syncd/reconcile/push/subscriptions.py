"""Each bound calendar's change-notification subscription, as syncd keeps track of it.

    push_subscriptions   one row per bound calendar: the service's subscription id, when
                         it expires, the SHA-256 of its client state (the secret itself is
                         only ever in the service's hands and ours while creating it), and
                         what the notices about it asked for (a resync, a renewal)

The web handler (`notices`) checks notifications against the rows and makes the
calendars' passes due; the worker (`upkeep`) creates and renews the
subscriptions under the calendar's lease, before a due pass, with the functions
below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from syncd.reconcile.models import ReconcileState
from syncd.store.models import Base


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    binding_id: Mapped[int] = mapped_column(ForeignKey("calendar_bindings.id"), primary_key=True)
    subscription_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    client_state_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256, hex
    expires_at: Mapped[datetime | None]
    resync_wanted: Mapped[bool] = mapped_column(Boolean, default=False)  # the service missed some
    renew_wanted: Mapped[bool] = mapped_column(Boolean, default=False)  # reauthorization asked
    next_attempt_at: Mapped[datetime | None]  # after a failed create or renewal
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


def hashed(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


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
    row: PushSubscription, now: datetime, renew_before: timedelta
) -> SubscriptionAction | None:
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return None
    if row.subscription_id is None or row.expires_at is None or row.expires_at <= now:
        return SubscriptionAction.CREATE
    if row.renew_wanted or row.expires_at - now <= renew_before:
        return SubscriptionAction.RENEW
    return None


def _row(session: Session, binding_id: int) -> PushSubscription:
    row = session.get(PushSubscription, binding_id, with_for_update=True)
    if row is None:
        row = PushSubscription(binding_id=binding_id, resync_wanted=False, renew_wanted=False,
                               failures=0)
        session.add(row)
        session.flush()
    return row


def start_over(session: Session, binding_id: int) -> None:
    """The service missed notifications: the next pass lists the whole window (cursor None)."""
    state = session.get(ReconcileState, binding_id, with_for_update=True)
    if state is not None:
        state.cursor = None
    _row(session, binding_id).resync_wanted = False


def record_subscription(
    session: Session, binding_id: int, subscription_id: str, expires: datetime,
    client_state_hash: str | None,
) -> None:
    """A subscription made (with its client state's hash) or renewed (None: keep the hash)."""
    row = _row(session, binding_id)
    row.subscription_id, row.expires_at = subscription_id, expires
    if client_state_hash is not None:
        row.client_state_hash = client_state_hash
    row.renew_wanted, row.failures, row.last_error, row.next_attempt_at = False, 0, None, None


def forget_subscription(session: Session, binding_id: int) -> None:
    """The service no longer has it: the next upkeep makes a new one."""
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

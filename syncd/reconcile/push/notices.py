"""What a pushed notice does to the store, once the web handler has read it.

A notice counts only when its subscription is one syncd keeps for a calendar of
the connectors it came in for, and its client state hashes to the stored hash
(compared in constant time). It then makes a pass due on every active calendar
the subscription covers: its own and those leased with it (one lease key, as
`Connector.lease_key` gives it: a Microsoft 365 subscription is on the whole
mailbox, whose calendars share one). A binding not yet keyed by a worker is
woken alone; it has had no pass yet, so its first one is due anyway.

A feed speaks for the configured connectors of its kind (by name) and for the
accounts stored as data of its kind (`account.<id>`, by the account's row). A
notice on the subscription of an account deleted since (its binding is kept,
inactive, naming no account) is taken and ignored: the service, which keeps
the subscription until it expires, wants its 2xx, and nothing is left to wake.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from connectors.push import NoticeKind, PushNotice
from syncd.reconcile.push.subscriptions import PushSubscription, hashed
from syncd.reconcile.state import request_pass
from syncd.store.accounts import PREFIX
from syncd.store.models import CalendarBinding, ConnectorAccount


def take_in(
    session: Session, notices: list[PushNotice], connectors: Collection[str],
    account_kind: str | None = None,
) -> list[PushNotice]:
    """Act on the notices whose subscription (on a calendar of `connectors`, by name, or of
    a stored account of `account_kind`) and client state are known; the others, refused,
    are returned."""
    ids = {n.subscription_id for n in notices}
    query = (
        select(PushSubscription, CalendarBinding.connector, CalendarBinding.account_id)
        .join(CalendarBinding, CalendarBinding.id == PushSubscription.binding_id)
        .where(PushSubscription.subscription_id.in_(ids),
               _spoken_for(connectors, account_kind))
    )
    locked = query.with_for_update(of=PushSubscription)
    rows = {row.subscription_id: (row, _account_gone(connector, account_id))
            for row, connector, account_id in session.execute(locked)}
    woken: set[int] = set()
    refused = []
    for notice in notices:
        row, gone = rows.get(notice.subscription_id, (None, False))
        if row is None or not _matches(row, notice.client_state):
            refused.append(notice)
            continue
        if gone:  # answered, and nothing done
            continue
        _record(row, notice.kind)
        woken.add(row.binding_id)
    for binding_id in _covered(session, woken):
        request_pass(session, binding_id)
    return refused


def _spoken_for(connectors: Collection[str], account_kind: str | None) -> ColumnElement[bool]:
    """The bindings a feed speaks for: its configured connectors, its kind's stored accounts
    and the bindings left by accounts deleted since (account_id cleared)."""
    configured = CalendarBinding.connector.in_(connectors)
    if account_kind is None:
        return configured
    of_kind = select(ConnectorAccount.id).where(ConnectorAccount.kind == account_kind)
    stored = and_(CalendarBinding.connector.startswith(PREFIX, autoescape=True),
                  or_(CalendarBinding.account_id.in_(of_kind),
                      CalendarBinding.account_id.is_(None)))
    return or_(configured, stored)


def _account_gone(connector: str, account_id: int | None) -> bool:
    """The binding was on a stored account that has been deleted since."""
    return connector.startswith(PREFIX) and account_id is None


def _matches(row: PushSubscription, client_state: str | None) -> bool:
    if row.client_state_hash is None or client_state is None:
        return False
    return hmac.compare_digest(row.client_state_hash, hashed(client_state))


def _record(row: PushSubscription, kind: NoticeKind) -> None:
    if kind == NoticeKind.REMOVED:  # the service dropped it: the worker makes a new one
        row.subscription_id = row.client_state_hash = row.expires_at = None
        row.next_attempt_at = None
    elif kind == NoticeKind.MISSED:
        row.resync_wanted = True
    elif kind == NoticeKind.REAUTHORIZE:
        row.renew_wanted = True


def _covered(session: Session, binding_ids: set[int]) -> set[int]:
    """The active bindings that subscriptions on `binding_ids` cover."""
    if not binding_ids:
        return set()
    keys = select(CalendarBinding.lease_key).where(
        CalendarBinding.id.in_(binding_ids), CalendarBinding.lease_key.is_not(None)
    )
    query = select(CalendarBinding.id).where(
        CalendarBinding.active.is_(True),
        or_(CalendarBinding.id.in_(binding_ids), CalendarBinding.lease_key.in_(keys)),
    )
    return set(session.scalars(query))

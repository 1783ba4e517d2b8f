"""A calendar's credentials refused: recorded, told of and announced in one transaction.

The calendar is paused in state auth_error (retried after `backoff_max_seconds`,
or at once when its account is reconnected: syncd/store/accounts.py). Going
to auth_error from another state queues one `binding.auth_error` webhook event;
staying there queues nothing. A calendar on a stored account also puts the
account in auth_error, and the first such refusal tells the staff member who
connected it and the merchant, with a new connect link to reconnect it; the
account's `auth_error_notified` keeps them from being told again until it has
worked again or was reconnected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from syncd.notify.auth_error_notice import Refused, notify_auth_error
from syncd.store import accounts, work
from syncd.store.connect_tokens import connect_link, issue_connect_token
from syncd.store.models import BindingState, CalendarBinding, ConnectorAccount, Staff
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow
from syncd.webhooks.auth_error import emit_binding_auth_error


@dataclass(frozen=True)
class Refusal:
    binding_id: int
    until: datetime  # paused until
    error: str  # "AuthError: ..." (connectors' messages carry no bodies, no secrets)
    connector_kind: str
    link_days: float  # how long the reconnect link works ([connect] link_days)


def record_refusal(session: SyncdSession, refusal: Refusal) -> None:
    binding = session.get(CalendarBinding, refusal.binding_id, with_for_update=True)
    if binding is None:
        return
    newly = binding.state != BindingState.AUTH_ERROR
    work.pause_binding(session, binding.id, refusal.until, refusal.error,
                       BindingState.AUTH_ERROR)
    account = session.get(ConnectorAccount, binding.account_id) if binding.account_id else None
    if newly:
        emit_binding_auth_error(session, binding, account, refusal.connector_kind)
    if account is not None and accounts.record_refusal(session, account, refusal.error):
        _tell(session, binding, account, refusal)


def _tell(
    session: SyncdSession, binding: CalendarBinding, account: ConnectorAccount, refusal: Refusal
) -> None:
    staff = session.get_one(Staff, account.staff_id or binding.staff_id)
    now = utcnow()
    link, secret = None, None
    if session.manage.public_url is not None:
        token, _ = issue_connect_token(session, staff, now, refusal.link_days)
        link, secret = connect_link(session.manage, token), session.manage.secret()
    refused = Refused(staff, account.key, account.kind, _calendars(session, account), link,
                      secret)
    notify_auth_error(session, refused, now=now)


def _calendars(session: SyncdSession, account: ConnectorAccount) -> tuple[str, ...]:
    query = select(CalendarBinding.key).where(
        CalendarBinding.account_id == account.id, CalendarBinding.active.is_(True)
    ).order_by(CalendarBinding.key).limit(20)
    return tuple(session.scalars(query))

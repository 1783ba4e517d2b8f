"""What the connect page shows: whose link it is, and the state of what is connected."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.connect.binding import connected_bindings
from syncd.errors import NotFound
from syncd.store.connect_tokens import ConnectToken, find_connect_token
from syncd.store.models import (
    AccountState,
    BindingState,
    CalendarBinding,
    ConnectorAccount,
    Merchant,
)

AUTH_ERROR_WORDS = {
    "caldav": "The calendar server no longer accepts the password (it was changed, or the "
              "app-specific password was revoked). Reconnect and enter the current one.",
    "m365": "Microsoft no longer accepts the sign-in (it expired or was revoked). Reconnect "
            "and sign in again.",
}
PAUSED_WORDS = ("The calendar could not be reached for a while; syncd keeps trying by itself. "
                "Nothing needs doing unless this lasts.")


@dataclass(frozen=True)
class Connection:
    key: str  # the binding's: what Disconnect names
    kind: str  # "caldav" or "m365"
    calendar: str  # the calendar, as a person recognises it
    account: str  # whose and where: user@host, or the Microsoft account
    state: str  # "ok", "auth_error" or "paused"
    reason: str | None  # for a state other than ok: what it means and what to do
    detail: str | None = None  # and what the server said (its status, an AADSTS number)


@dataclass(frozen=True)
class LinkView:
    staff_name: str
    merchant_name: str
    expires_at: datetime
    connections: tuple[Connection, ...]


def open_link(session: Session, token: str, now: datetime, *, lock: bool = False) -> ConnectToken:
    link = find_connect_token(session, token, now, lock=lock)
    if link is None:
        raise NotFound("connect link")
    return link


def link_view(session: Session, link: ConnectToken) -> LinkView:
    merchant = session.get_one(Merchant, link.staff.merchant_id)
    connections = tuple(_connection(session, b) for b in connected_bindings(session, link.staff))
    return LinkView(link.staff.name, merchant.name, link.expires_at, connections)


def _connection(session: Session, binding: CalendarBinding) -> Connection:
    account = session.get(ConnectorAccount, binding.account_id) if binding.account_id else None
    settings = json.loads(account.settings) if account is not None else {}
    kind = str(settings.get("kind", "caldav"))
    state = _state(binding, account)
    reason = (AUTH_ERROR_WORDS.get(kind) if state == "auth_error"
              else PAUSED_WORDS if state == "paused" else None)
    said = (account.last_error if account is not None else None) or binding.last_error
    return Connection(binding.key, kind, _calendar_label(kind, binding.calendar_id),
                      _account_label(kind, settings), state, reason,
                      said[:300] if said and state != "ok" else None)


def _state(binding: CalendarBinding, account: ConnectorAccount | None) -> str:
    if account is not None and account.state == AccountState.AUTH_ERROR:
        return "auth_error"
    if binding.state == BindingState.AUTH_ERROR:
        return "auth_error"
    return "paused" if binding.state == BindingState.PAUSED else "ok"


def _calendar_label(kind: str, calendar_id: str) -> str:
    if kind == "m365":
        return "Main calendar" if "/" not in calendar_id else "Another calendar of the mailbox"
    return unquote(calendar_id.rstrip("/").rpartition("/")[2]) or calendar_id


def _account_label(kind: str, settings: dict[str, object]) -> str:
    if kind == "m365":
        return str(settings.get("user") or "Microsoft 365")
    host = urlsplit(str(settings.get("url", ""))).netloc
    return f"{settings.get('username', '')} on {host}" if host else str(settings.get("username"))


def organisation_account(session: Session, merchant_id: int) -> ConnectorAccount | None:
    """The merchant's Microsoft 365 organisation that consented (an m365 account signed in
    with application permissions), whose staff mailboxes may be bound by address."""
    found = session.scalars(select(ConnectorAccount).where(
        ConnectorAccount.merchant_id == merchant_id, ConnectorAccount.kind == "m365",
    ).order_by(ConnectorAccount.id))
    for account in found:
        settings = json.loads(account.settings)
        if settings.get("sign_in", "app") == "app" and settings.get("tenant_id"):
            return account
    return None

"""Binding the calendar a staff member chose, and disconnecting it.

Connecting stores an account of the merchant's (its secret sealed; `staff_id`
says who connected it, and who hears when it stops working) and binds the
chosen calendar to the staff member: their bookings are marked for it in the
same transaction, so they appear there within seconds. One calendar is connected
through the page at a time: connecting another disconnects the one before.

Disconnecting stops the syncing and leaves the events already written where
they are (as Google Calendar and Cal.com do when a calendar is disconnected):
the binding is deactivated and its mirrors are forgotten, so no later change of
a booking touches that calendar. Connecting the same calendar again finds the
events already there (the worker looks before it writes), so none is doubled.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncd.config.stored_accounts import stored_shape
from syncd.connect.drafts import Draft, Seal, drop_draft
from syncd.errors import Conflict, InputError, NotFound
from syncd.store.accounts import (
    AccountChange,
    get_account,
    registry_name,
    settings_of,
    upsert_account,
)
from syncd.store.catalog import hold_identity
from syncd.store.connect_tokens import ConnectToken
from syncd.store.mirrors import bind_calendar_to_bookings
from syncd.store.models import CalendarBinding, ConnectorAccount, Merchant, Mirror, Staff

KEY_PREFIX = "connect."
CALENDAR_TAKEN = ("This calendar is already connected for someone else at this business. "
                  "Please choose another one.")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def account_key(staff: Staff, settings: dict[str, Any]) -> str:
    """One account per staff member and login: connecting it again replaces its secret."""
    login = json.dumps(settings, sort_keys=True)
    return f"{KEY_PREFIX}{staff.id}.{settings['kind']}.{_digest(login)}"


def connect(
    session: Session,
    link: ConnectToken,
    draft: Draft,
    calendar_id: str,
    seal: Seal,
    *,
    identity: str | None = None,
) -> CalendarBinding:
    """Bind the chosen calendar of the draft's account (`identity`: where it lives, see
    connectors.calendar_identity); the draft is dropped."""
    option = draft.option(calendar_id)
    if option is None or not option.usable:
        raise InputError({"calendar": "Please choose one of the calendars shown."})
    staff = link.staff
    account = (store_account(session, staff, draft, seal) if draft.account_key is None
               else _merchant_account(session, staff, draft.account_key))
    binding = bind(session, staff, account, calendar_id, identity)
    drop_draft(link)
    return binding


def store_account(session: Session, staff: Staff, draft: Draft, seal: Seal) -> ConnectorAccount:
    """The account of the draft's login, sealed: the staff member's account of that login
    if there is one already (made here or through the API: reconnecting replaces its
    secret, and its calendars stay bound once), else a new one."""
    stored_shape(draft.settings)  # the kind's own checks, before anything is stored
    merchant = session.get_one(Merchant, staff.merchant_id)
    sealed = None if draft.secret is None else seal.seal(draft.secret)
    change = AccountChange(str(draft.settings["kind"]), dict(draft.settings), sealed, staff)
    same = _account_of_login(session, staff, draft.settings)
    key = same.key if same is not None else account_key(staff, draft.settings)
    account, _ = upsert_account(session, merchant, key, change)
    return account


def _login(settings: dict[str, Any]) -> tuple[str, ...]:
    if settings.get("kind") == "m365":
        return ("m365", str(settings.get("user") or ""), str(settings.get("tenant_id") or ""))
    url = str(settings.get("url", "")).rstrip("/")
    return ("caldav", url, str(settings.get("username") or ""))


def _account_of_login(
    session: Session, staff: Staff, settings: dict[str, Any]
) -> ConnectorAccount | None:
    bound = select(CalendarBinding.account_id).where(CalendarBinding.staff_id == staff.id)
    theirs = session.scalars(select(ConnectorAccount).where(
        ConnectorAccount.merchant_id == staff.merchant_id,
        ConnectorAccount.kind == settings.get("kind"),
        (ConnectorAccount.staff_id == staff.id) | ConnectorAccount.id.in_(bound),
    ).order_by(ConnectorAccount.id))
    login = _login(settings)
    return next((a for a in theirs if _login(settings_of(a)) == login), None)


def _merchant_account(session: Session, staff: Staff, key: str) -> ConnectorAccount:
    return get_account(session, session.get_one(Merchant, staff.merchant_id), key)


def bind(
    session: Session,
    staff: Staff,
    account: ConnectorAccount,
    calendar_id: str,
    identity: str | None = None,
) -> CalendarBinding:
    """The staff member's binding of the calendar, active; their other connections end."""
    connector = registry_name(account.id)
    binding = session.scalar(select(CalendarBinding).where(
        CalendarBinding.connector == connector, CalendarBinding.calendar_id == calendar_id))
    if binding is not None and binding.staff_id != staff.id:
        raise Conflict(CALENDAR_TAKEN)
    for other in connected_bindings(session, staff):
        if other is not binding:
            _stop(session, other)
    if binding is None:
        binding = CalendarBinding(
            staff_id=staff.id, key=f"{KEY_PREFIX}{account.id}.{_digest(calendar_id)}",
            connector=connector, account_id=account.id, calendar_id=calendar_id)
        session.add(binding)
    binding.active = True
    _hold(session, binding, identity)
    session.flush()
    bind_calendar_to_bookings(session, binding)
    return binding


def _hold(session: Session, binding: CalendarBinding, identity: str | None) -> None:
    try:
        hold_identity(session, binding, identity)
    except Conflict:
        raise Conflict(CALENDAR_TAKEN) from None


def connected_bindings(session: Session, staff: Staff) -> list[CalendarBinding]:
    """The staff member's active bindings made through the connect page."""
    return list(session.scalars(select(CalendarBinding).where(
        CalendarBinding.staff_id == staff.id, CalendarBinding.active.is_(True),
        CalendarBinding.key.startswith(KEY_PREFIX, autoescape=True),
    ).order_by(CalendarBinding.id)))


def account_bindings(session: Session, staff: Staff) -> list[CalendarBinding]:
    """The staff member's active bindings on stored accounts, however they were made
    (this page or the API): what the page shows, and may disconnect or reconnect."""
    return list(session.scalars(select(CalendarBinding).where(
        CalendarBinding.staff_id == staff.id, CalendarBinding.active.is_(True),
        CalendarBinding.account_id.is_not(None),
    ).order_by(CalendarBinding.id)))


def disconnect(session: Session, link: ConnectToken, binding_key: str) -> None:
    """Stop syncing the connected calendar `binding_key`; its events stay where they are."""
    found = [b for b in account_bindings(session, link.staff) if b.key == binding_key]
    if not found:
        raise NotFound("connected calendar")
    _stop(session, found[0])


def _stop(session: Session, binding: CalendarBinding) -> None:
    binding.active = False
    hold_identity(session, binding, None)
    locked = select(Mirror.id).where(Mirror.binding_id == binding.id).with_for_update()
    ids = list(session.scalars(locked))
    if ids:
        session.execute(delete(Mirror).where(Mirror.id.in_(ids)))
    session.flush()

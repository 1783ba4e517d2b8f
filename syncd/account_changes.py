"""Storing a calendar account as data, for the API (syncd/api/routes_accounts.py) and the
connect page: the kind validates the settings, the connector must build with the given
secret (nothing is sent anywhere), the secret is sealed before it reaches a transaction,
and every process picks the change up by itself (syncd/connector_registry.py).

    answer, created = await store_account(runtime, "m1", "alice-dav", AccountIn(...))
    binding, created = await bind_calendar(runtime, "m1", "alice", "work",
                                           BindingIn(account="alice-dav", calendar_id=path))
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.orm import Session

from connectors import build_account
from syncd.config import Settings
from syncd.config.stored_accounts import (
    connector_settings,
    identity_of,
    only_m365_app,
    stored_settings,
)
from syncd.errors import ConfigError, Conflict, InputError
from syncd.runtime import Runtime
from syncd.schemas import AccountIn, BindingIn, field_errors
from syncd.store import accounts, catalog
from syncd.store.models import CalendarBinding, ConnectorAccount, Staff
from syncd.store.sealing import Sealer
from syncd.store.session import SyncdSession
from syncd.timeutil import utc_iso

T = TypeVar("T")


class PlainCredential:
    """The credential of a request, held only while the account is checked."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret

    def read(self) -> str | None:
        return self._secret

    def write(self, secret: str) -> None:
        self._secret = secret


def account_json(account: ConnectorAccount, staff_key: str | None, active: int) -> dict[str, Any]:
    return {
        "key": account.key,
        "kind": account.kind,
        "settings": accounts.settings_of(account),
        "has_credential": account.credential is not None,
        "staff": staff_key,
        "state": account.state,
        "last_error": account.last_error,
        "version": account.version,
        "active_bindings": active,
        "created_at": utc_iso(account.created_at),
        "updated_at": utc_iso(account.updated_at),
    }


def answer_json(session: Session, account: ConnectorAccount) -> dict[str, Any]:
    """The account as the API answers it (AccountOut), with its staff key and bindings."""
    staff = None if account.staff_id is None else session.get_one(Staff, account.staff_id).key
    active = accounts.binding_counts(session, [account.id])[account.id]
    return account_json(account, staff, active)


def validated_settings(settings: Settings, data: AccountIn) -> dict[str, Any]:
    """The settings to store, as the kind validates them (422 naming each bad field): a
    Microsoft 365 account's own fields (app, tenant_id, sign_in, user), checked against
    its app registration's table (syncd/config/stored_accounts.py)."""
    default_app = only_m365_app(settings.connectors, settings.connect.m365_app)
    try:
        return stored_settings({**data.settings, "kind": data.kind}, settings.connectors,
                               default_app)
    except ValidationError as error:
        raise InputError({f"settings.{k}": v for k, v in field_errors(error).items()}) from None
    except ConfigError as error:
        raise InputError({"settings.app": "; ".join(error.problems)}) from None
    except ValueError as error:
        raise InputError({"kind": str(error)}) from None


async def check_buildable(settings: dict[str, Any], secret: str | None) -> None:
    """The account builds into a connector with this secret (a missing password is a 422);
    nothing is sent anywhere."""
    try:
        connector = build_account(settings, PlainCredential(secret))
    except ConfigError as error:
        raise InputError({"credential": "; ".join(error.problems)}) from None
    except ValueError as error:
        raise InputError({"kind": str(error)}) from None
    await connector.aclose()


def sealer_of(runtime: Runtime) -> Sealer:
    try:
        return runtime.connectors.sealer()
    except ConfigError as error:
        raise Conflict("no encryption keys are configured to store a credential: "
                       + "; ".join(error.problems)) from None


async def store_account(
    runtime: Runtime, merchant_key: str, key: str, data: AccountIn
) -> tuple[dict[str, Any], bool]:
    """Create or change the merchant's account `key`; its answer (account_json) and whether
    it was created. `InputError` (422) naming bad fields, `Conflict` without keys."""
    settings = validated_settings(runtime.settings, data)
    secret = None if data.credential is None else data.credential.password
    given = "credential" in data.model_fields_set
    sealed: str | accounts.Keep | None = accounts.KEEP
    if given:
        sealed = None if secret is None else sealer_of(runtime).seal(secret)

    def work(session: SyncdSession) -> tuple[dict[str, Any], bool]:
        merchant = catalog.get_merchant(session, merchant_key)
        staff = None if data.staff is None else catalog.reference(
            session, Staff, merchant, data.staff, "staff"
        )
        change = accounts.AccountChange(data.kind, settings, sealed, staff)
        account, created = accounts.upsert_account(session, merchant, key, change)
        return answer_json(session, account), created

    if given or not await _in_thread(runtime, lambda s: _exists(s, merchant_key, key)):
        await check_buildable(connector_settings(settings, runtime.settings.connectors), secret)
    return await _in_thread(runtime, work)


def _exists(session: Session, merchant_key: str, key: str) -> bool:
    merchant = catalog.get_merchant(session, merchant_key)
    return accounts.find_account(session, merchant, key) is not None


async def _in_thread(runtime: Runtime, work: Callable[[SyncdSession], T]) -> T:
    def in_transaction() -> T:
        with runtime.sessions.begin() as session:
            return work(session)

    return await asyncio.to_thread(in_transaction)


async def checked_calendar(runtime: Runtime, merchant_key: str, data: BindingIn) -> str | None:
    """Where the binding's calendar lives (connectors.calendar_identity; None: unknown). Its
    id must name a calendar of its connector's own account, not one on another host."""
    name, settings, stored = data.connector, None, False
    if data.account is not None:
        name, settings = await _stored_account(runtime, merchant_key, data.account)
        stored = True
    elif name is not None:
        settings = runtime.settings.connectors.get(name)
    connector = None if name is None else runtime.connectors.get(name)
    problem = None if connector is None else connector.calendar_id_problem(data.calendar_id)
    if problem is not None:
        raise InputError({"calendar_id": problem})
    if settings is None:
        return None
    tables = runtime.settings.connectors
    return identity_of(settings, data.calendar_id, tables, stored=stored)


async def _stored_account(
    runtime: Runtime, merchant_key: str, account_key: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The stored account's registry name, once this process's registry has it, and its
    settings (None, None: no such account; storing the binding names the field)."""

    def work(session: SyncdSession) -> tuple[str | None, dict[str, Any] | None]:
        merchant = catalog.get_merchant(session, merchant_key)
        account = accounts.find_account(session, merchant, account_key)
        if account is None:
            return None, None
        return accounts.registry_name(account.id), accounts.settings_of(account)

    name, settings = await _in_thread(runtime, work)
    if name is not None and name not in runtime.connectors:
        await runtime.connectors.refresh()  # stored a moment ago, by this or another process
    return name, settings


async def bind_calendar(
    runtime: Runtime, merchant_key: str, staff_key: str, key: str, data: BindingIn
) -> tuple[CalendarBinding, bool]:
    """Bind a calendar (of a stored account: `data.account`) to a staff member, as the API's
    PUT .../calendars/{key} does; the staff member's bookings follow it within seconds."""
    identity = await checked_calendar(runtime, merchant_key, data)
    connectors = set(runtime.settings.connectors)

    def work(session: SyncdSession) -> tuple[CalendarBinding, bool]:
        merchant = catalog.get_merchant(session, merchant_key)
        staff = catalog.get_in_merchant(session, Staff, merchant, staff_key)
        return catalog.upsert_binding(session, staff, key, data, connectors, identity=identity)

    return await _in_thread(runtime, work)

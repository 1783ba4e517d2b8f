"""Calendar accounts stored as data (table `connector_accounts`): written by the API,
read by every process's connector registry (syncd/connector_registry.py).

A row's `credential` is sealed (syncd.store.sealing) before it gets here; this
module never sees a secret in clear. Every change of an account's settings or
credential bumps its `version` and, on PostgreSQL, notifies `syncd_accounts` in
the same transaction, so that every process rebuilds its connector within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.orm import Session

from syncd.errors import Conflict, NotFound
from syncd.store.models import (
    AccountState,
    BindingState,
    CalendarBinding,
    ConnectorAccount,
    Merchant,
    Mirror,
    Staff,
)
from syncd.store.sealing import Sealer, SealError
from syncd.timeutil import utcnow

ACCOUNTS_CHANNEL = "syncd_accounts"
# set in session.info by a change of an account: the runtime wakes its refresher on commit
ACCOUNTS_CHANGED = "syncd.accounts_changed"
PREFIX = "account."  # a stored account's registry name: account.<id>


class Keep(Enum):
    KEEP = "keep"  # an upsert's credential: leave the stored one as it is


KEEP = Keep.KEEP


def registry_name(account_id: int) -> str:
    return f"{PREFIX}{account_id}"


def account_id_of(name: str) -> int | None:
    """The id in a registry name `account.<id>`; None for a configured connector's name."""
    digits = name.removeprefix(PREFIX)
    return int(digits) if name.startswith(PREFIX) and digits.isdigit() else None


@dataclass(frozen=True)
class AccountChange:
    kind: str
    settings: dict[str, Any]  # validated by the kind, without secrets
    sealed_credential: str | Keep | None = KEEP
    staff: Staff | None = None


@dataclass(frozen=True)
class StoredAccount:
    """What a process needs to build an account's connector: a row, as read."""

    id: int
    version: int
    kind: str
    settings: dict[str, Any]
    sealed_credential: str | None


def settings_of(account: ConnectorAccount) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(account.settings)
    return settings


def find_account(session: Session, merchant: Merchant, key: str) -> ConnectorAccount | None:
    return session.scalar(select(ConnectorAccount).where(
        ConnectorAccount.merchant_id == merchant.id, ConnectorAccount.key == key
    ))


def get_account(session: Session, merchant: Merchant, key: str) -> ConnectorAccount:
    account = find_account(session, merchant, key)
    if account is None:
        raise NotFound(f"account {key!r}")
    return account


def upsert_account(
    session: Session, merchant: Merchant, key: str, change: AccountChange
) -> tuple[ConnectorAccount, bool]:
    account = find_account(session, merchant, key)
    created = account is None
    if account is None:
        now = utcnow()
        account = ConnectorAccount(merchant_id=merchant.id, key=key, version=0,
                                   created_at=now, updated_at=now, state=AccountState.OK,
                                   auth_error_notified=False)
        session.add(account)
    if change.staff is not None:
        account.staff_id = change.staff.id
    if _apply(account, change) or created:
        reconnected(account)  # what the connector is built from changed: tried afresh
        _changed(session, account)
        _retry_bindings(session, account.id)
    session.flush()
    return account, created


def _apply(account: ConnectorAccount, change: AccountChange) -> bool:
    """Whether the change touched what a connector is built from."""
    settings = json.dumps(change.settings, sort_keys=True)
    touched = (account.kind, account.settings) != (change.kind, settings)
    account.kind, account.settings = change.kind, settings
    if not isinstance(change.sealed_credential, Keep):
        account.credential = change.sealed_credential
        touched = True
    return touched


def reconnected(account: ConnectorAccount) -> None:
    """Back to ok; a later auth error is told again."""
    account.state = AccountState.OK
    account.last_error = None
    account.auth_error_notified = False


def _changed(session: Session, account: ConnectorAccount) -> None:
    account.version = (account.version or 0) + 1
    account.updated_at = utcnow()
    notify_accounts_changed(session)


def _retry_bindings(session: Session, account_id: int) -> None:
    """A changed account is tried again at once (a new password ends an auth error's long
    pause, and its bindings are ok until refused again: a new refusal is told anew); the
    refresher wakes the worker once its registry holds the new version."""
    session.execute(
        update(CalendarBinding).where(CalendarBinding.account_id == account_id)
        .values(paused_until=None)
    )
    session.execute(
        update(CalendarBinding)
        .where(CalendarBinding.account_id == account_id,
               CalendarBinding.state == BindingState.AUTH_ERROR)
        .values(state=BindingState.OK, last_error=None, consecutive_failures=0)
    )


def record_refusal(session: Session, account: ConnectorAccount, error: str) -> bool:
    """The service refused the account's credential (`error`: words, no secret): state
    auth_error. True once per auth error: its people are yet to be told (now marked told)."""
    account.state, account.last_error = AccountState.AUTH_ERROR, error
    if account.auth_error_notified:
        return False
    account.auth_error_notified = True
    return True


def recover_accounts(session: Session, binding_ids: Sequence[int]) -> None:
    """The refused accounts of these calendars, which just worked, back to ok: a later
    refusal is told again."""
    refused = select(CalendarBinding.account_id).where(
        CalendarBinding.id.in_(binding_ids), CalendarBinding.account_id.is_not(None),
    )
    session.execute(
        update(ConnectorAccount)
        .where(ConnectorAccount.id.in_(refused), ConnectorAccount.state == AccountState.AUTH_ERROR)
        .values(state=AccountState.OK, last_error=None, auth_error_notified=False),
        execution_options={"synchronize_session": False},
    )


def notify_accounts_changed(session: Session) -> None:
    """This process and the others hear of it when this transaction commits (NOTIFY is
    transactional)."""
    session.info[ACCOUNTS_CHANGED] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {ACCOUNTS_CHANNEL}"))


def delete_account(session: Session, account: ConnectorAccount) -> None:
    """Refused while a binding uses it, or an inactive one still has events to remove."""
    bindings = list(session.scalars(
        select(CalendarBinding).where(CalendarBinding.account_id == account.id)
    ))
    if any(binding.active for binding in bindings):
        raise Conflict("active calendar bindings use this account: deactivate them first")
    if _has_pending_mirrors(session, [binding.id for binding in bindings]):
        raise Conflict("bookings are still being removed from this account's calendars; "
                       "try again shortly")
    for binding in bindings:
        binding.account_id = None  # kept, inactive, for its history; it names no account now
    session.flush()
    session.delete(account)
    notify_accounts_changed(session)


def _has_pending_mirrors(session: Session, binding_ids: list[int]) -> bool:
    if not binding_ids:
        return False
    pending = and_(Mirror.binding_id.in_(binding_ids), Mirror.pending.is_(True),
                   Mirror.dead.is_(False))
    return bool(session.scalar(select(func.count()).select_from(Mirror).where(pending)))


def account_page(
    session: Session, merchant: Merchant, after: int, limit: int
) -> list[ConnectorAccount]:
    """Up to `limit + 1` of the merchant's accounts after id `after`, by id."""
    query = select(ConnectorAccount).where(
        ConnectorAccount.merchant_id == merchant.id, ConnectorAccount.id > after
    )
    return list(session.scalars(query.order_by(ConnectorAccount.id).limit(limit + 1)))


def binding_counts(session: Session, account_ids: Sequence[int]) -> dict[int, int]:
    """Active bindings of each account."""
    query = (
        select(CalendarBinding.account_id, func.count())
        .where(CalendarBinding.account_id.in_(account_ids), CalendarBinding.active.is_(True))
        .group_by(CalendarBinding.account_id)
    )
    found = {row[0]: row[1] for row in session.execute(query)}
    return {account_id: int(found.get(account_id, 0)) for account_id in account_ids}


def versions(session: Session) -> dict[int, int]:
    """Every stored account's id and version: what a registry compares to its snapshot."""
    query = select(ConnectorAccount.id, ConnectorAccount.version)
    return {row[0]: row[1] for row in session.execute(query)}


def fingerprint(session: Session) -> tuple[int, int, int]:
    """The accounts' count and sums of ids and versions, in one row: a registry's periodic
    look reads every version only when this moved. Every change moves it: a version only
    grows, and on PostgreSQL an account added in place of one removed has a new id."""
    query = select(
        func.count(), func.coalesce(func.sum(ConnectorAccount.id), 0),
        func.coalesce(func.sum(ConnectorAccount.version), 0),
    )
    count, ids, total = session.execute(query).one()
    return int(count), int(ids), int(total)


def fingerprint_of(found: dict[int, int]) -> tuple[int, int, int]:
    """`fingerprint` of what `versions` found."""
    return len(found), sum(found), sum(found.values())


_IDS_PER_READ = 1000  # well under SQLite's and PostgreSQL's parameters per statement


def stored_accounts(session: Session, ids: Sequence[int]) -> list[StoredAccount]:
    """The accounts `ids`, read a thousand at a time (a process's first refresh reads
    every stored account)."""
    found: list[StoredAccount] = []
    for start in range(0, len(ids), _IDS_PER_READ):
        found.extend(_stored_accounts(session, ids[start:start + _IDS_PER_READ]))
    return found


def _stored_accounts(session: Session, ids: Sequence[int]) -> list[StoredAccount]:
    query = select(
        ConnectorAccount.id, ConnectorAccount.version, ConnectorAccount.kind,
        ConnectorAccount.settings, ConnectorAccount.credential,
    ).where(ConnectorAccount.id.in_(ids))
    return [
        StoredAccount(row[0], row[1], row[2], json.loads(row[3]), row[4])
        for row in session.execute(query)
    ]


def store_credential(session: Session, account_id: int, sealed: str) -> None:
    """The connector's own change of its secret (a refreshed token cache); its version
    stays, since the connector that made the change already holds it."""
    session.execute(
        update(ConnectorAccount).where(ConnectorAccount.id == account_id)
        .values(credential=sealed, updated_at=utcnow())
    )


@dataclass
class Rotation:
    """What `syncd keys rotate` did: counts, and the accounts no key opens (by key)."""

    rotated: int = 0
    unopenable: list[str] = field(default_factory=list)
    last_id: int = 0


def rotate_credentials(session: Session, sealer: Sealer, rotation: Rotation, limit: int) -> int:
    """Seal the next `limit` stored credentials again under the first key; how many were read."""
    query = (
        select(ConnectorAccount)
        .where(ConnectorAccount.id > rotation.last_id, ConnectorAccount.credential.is_not(None))
        .order_by(ConnectorAccount.id).limit(limit)
    )
    accounts = list(session.scalars(query))
    for account in accounts:
        rotation.last_id = account.id
        try:
            account.credential = sealer.rotate(account.credential or "")
        except SealError:
            rotation.unopenable.append(f"{account.merchant_id}/{account.key}")
        else:
            rotation.rotated += 1
    return len(accounts)

"""A merchant's calendar accounts stored as data: no config edit, no restart.

    PUT    /merchants/{m}/accounts/{key}   create (201) or change (200); the credential sealed
    GET    /merchants/{m}/accounts[/{key}] read; never the credential, only has_credential
    DELETE /merchants/{m}/accounts/{key}   refused (409) while an active binding uses it

Every process sees a change within `accounts.refresh_seconds` (at once on a wake-up):
syncd/connector_registry.py. Bindings name an account by its key (`account`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import account_settings, build_account
from syncd.api.answers import AccountOut, AccountPage
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply
from syncd.api.operation import Operation
from syncd.errors import ConfigError, Conflict, InputError
from syncd.runtime import Runtime
from syncd.schemas import AccountIn, Strict, field_errors, parse
from syncd.store import accounts, catalog
from syncd.store.models import ConnectorAccount, Staff
from syncd.store.sealing import Sealer
from syncd.timeutil import utc_iso

MAX_PAGE = 200


class AccountQuery(Strict):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


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


def _answer(session: Session, account: ConnectorAccount, created: bool = False) -> Response:
    return reply(_json(session, account), created)


def _json(session: Session, account: ConnectorAccount) -> dict[str, Any]:
    staff = None if account.staff_id is None else session.get_one(Staff, account.staff_id).key
    active = accounts.binding_counts(session, [account.id])[account.id]
    return account_json(account, staff, active)


def validated_settings(data: AccountIn) -> dict[str, Any]:
    """The kind's settings as it validates them (422 naming each bad field)."""
    try:
        settings = account_settings({**data.settings, "kind": data.kind})
    except ValidationError as error:
        raise InputError({f"settings.{k}": v for k, v in field_errors(error).items()}) from None
    except ValueError as error:
        raise InputError({"kind": str(error)}) from None
    return settings.model_dump(mode="json", exclude_unset=True) | {"kind": data.kind}


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


async def put_account(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "account")
    data = parse(AccountIn, await read_body(runtime, request))
    settings = validated_settings(data)
    secret = None if data.credential is None else data.credential.password
    given = "credential" in data.model_fields_set
    sealed: str | accounts.Keep | None = accounts.KEEP
    if given:
        sealed = None if secret is None else sealer_of(runtime).seal(secret)

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        staff = None if data.staff is None else catalog.reference(
            session, Staff, merchant, data.staff, "staff"
        )
        change = accounts.AccountChange(data.kind, settings, sealed, staff)
        account, created = accounts.upsert_account(session, merchant, key, change)
        return _answer(session, account, created)

    if given or not await _exists(runtime, merchant_key, key):
        await check_buildable(settings, secret)
    return await transact(runtime, work)


async def _exists(runtime: Runtime, merchant_key: str, key: str) -> bool:
    def work(session: Session) -> bool:
        merchant = catalog.get_merchant(session, merchant_key)
        return accounts.find_account(session, merchant, key) is not None

    return await transact(runtime, work)


async def get_account(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "account")

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        return _answer(session, accounts.get_account(session, merchant, key))

    return await transact(runtime, work)


async def delete_account(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "account")

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        accounts.delete_account(session, accounts.get_account(session, merchant, key))
        return Response(status_code=204)

    return await transact(runtime, work)


async def list_accounts(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    query = parse(AccountQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        rows = accounts.account_page(session, merchant, query.cursor, query.limit)
        more = len(rows) > query.limit
        cursor = rows[query.limit - 1].id if more else None
        return page_reply([_json(session, a) for a in rows[: query.limit]], cursor)

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    account = "/merchants/{merchant}/accounts/{account}"
    return [
        resource(runtime, "/merchants/{merchant}/accounts", get=list_accounts),
        resource(runtime, account, get=get_account, put=put_account, delete=delete_account),
    ]


_ACCOUNT = "/merchants/{merchant}/accounts/{account}"
OPERATIONS = [
    Operation("get", "/merchants/{merchant}/accounts", "listAccounts",
              "A merchant's stored calendar accounts, a page at a time", AccountPage,
              query=AccountQuery),
    Operation("get", _ACCOUNT, "getAccount",
              "A stored calendar account, without its credential", AccountOut),
    Operation("put", _ACCOUNT, "putAccount",
              "Store a calendar account (201) or change it (200); every process uses it "
              "within seconds. The credential is encrypted and never answered back",
              AccountOut, upsert=True, body=AccountIn, refusals=(409,)),
    Operation("delete", _ACCOUNT, "deleteAccount",
              "Remove a stored account; refused while an active binding uses it", None,
              status=204, refusals=(409,)),
]

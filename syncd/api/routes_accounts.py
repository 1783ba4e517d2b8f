"""A merchant's calendar accounts stored as data: no config edit, no restart.

    PUT    /merchants/{m}/accounts/{key}   create (201) or change (200); the credential sealed
    GET    /merchants/{m}/accounts[/{key}] read; never the credential, only has_credential
    DELETE /merchants/{m}/accounts/{key}   refused (409) while an active binding uses it

Every process sees a change within `accounts.refresh_seconds` (at once on a wake-up):
syncd/connector_registry.py. Bindings name an account by its key (`account`).
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.account_changes import answer_json, store_account
from syncd.api.answers import AccountOut, AccountPage
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply
from syncd.api.operation import Operation
from syncd.runtime import Runtime
from syncd.schemas import AccountIn, Strict, parse
from syncd.store import accounts, catalog

MAX_PAGE = 200


class AccountQuery(Strict):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


async def put_account(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "account")
    data = parse(AccountIn, await read_body(runtime, request))
    answer, created = await store_account(runtime, merchant_key, key, data)
    return reply(answer, created)


async def get_account(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "account")

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        return reply(answer_json(session, accounts.get_account(session, merchant, key)))

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
        return page_reply([answer_json(session, a) for a in rows[: query.limit]], cursor)

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

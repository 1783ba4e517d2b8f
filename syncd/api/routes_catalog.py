"""Merchants, services, staff and their calendar bindings, created and updated by key (PUT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.account_changes import checked_calendar
from syncd.api.answers import BindingList, BindingOut, MerchantOut, ServiceOut, StaffOut
from syncd.api.handling import Handler, path_keys, read_body, reply, resource, transact
from syncd.api.operation import Operation
from syncd.api.queries import binding_counts, staff_bindings
from syncd.api.serialize import JSON, binding_json, merchant_json, service_json, staff_json
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, MerchantIn, ServiceIn, StaffIn, parse
from syncd.store import catalog
from syncd.store.models import CalendarBinding, Merchant, Service, Staff


async def put_merchant(runtime: Runtime, request: Request) -> Response:
    (key,) = path_keys(request, "merchant")
    data = parse(MerchantIn, await read_body(runtime, request))

    def work(session: Session) -> Response:
        merchant, created = catalog.upsert_merchant(session, key, data)
        return reply(merchant_json(merchant), created)

    return await transact(runtime, work)


async def get_merchant(runtime: Runtime, request: Request) -> Response:
    (key,) = path_keys(request, "merchant")

    def work(session: Session) -> Response:
        return reply(merchant_json(catalog.get_merchant(session, key)))

    return await transact(runtime, work)


R = TypeVar("R", Service, Staff)
Body = TypeVar("Body", ServiceIn, StaffIn)


def _put_in_merchant(
    name: str,
    schema: type[Body],
    upsert: Callable[[Session, Merchant, str, Body], tuple[R, bool]],
    to_json: Callable[[R], JSON],
) -> Handler:
    """PUT of a row a merchant holds by key (a service, a staff member)."""

    async def put(runtime: Runtime, request: Request) -> Response:
        merchant_key, key = path_keys(request, "merchant", name)
        data = parse(schema, await read_body(runtime, request))

        def work(session: Session) -> Response:
            merchant = catalog.get_merchant(session, merchant_key)
            row, created = upsert(session, merchant, key, data)
            return reply(to_json(row), created)

        return await transact(runtime, work)

    return put


def _get_in_merchant(name: str, model: type[R], to_json: Callable[[R], JSON]) -> Handler:
    """GET of a row a merchant holds by key."""

    async def get(runtime: Runtime, request: Request) -> Response:
        merchant_key, key = path_keys(request, "merchant", name)

        def work(session: Session) -> Response:
            merchant = catalog.get_merchant(session, merchant_key)
            return reply(to_json(catalog.get_in_merchant(session, model, merchant, key)))

        return await transact(runtime, work)

    return get


put_service = _put_in_merchant("service", ServiceIn, catalog.upsert_service, service_json)
get_service = _get_in_merchant("service", Service, service_json)
put_staff = _put_in_merchant("staff", StaffIn, catalog.upsert_staff, staff_json)
get_staff = _get_in_merchant("staff", Staff, staff_json)


def _staff(session: Session, merchant_key: str, staff_key: str) -> Staff:
    merchant = catalog.get_merchant(session, merchant_key)
    return catalog.get_in_merchant(session, Staff, merchant, staff_key)


def _binding_reply(session: Session, binding: CalendarBinding, created: bool = False) -> Response:
    counts = binding_counts(session, [binding.id])[binding.id]
    return reply(binding_json(binding, counts), created)


async def put_binding(runtime: Runtime, request: Request) -> Response:
    merchant_key, staff_key, key = path_keys(request, "merchant", "staff", "binding")
    data = parse(BindingIn, await read_body(runtime, request))
    identity = await checked_calendar(runtime, merchant_key, data)
    connectors = set(runtime.settings.connectors)

    def work(session: Session) -> Response:
        staff = _staff(session, merchant_key, staff_key)
        binding, created = catalog.upsert_binding(
            session, staff, key, data, connectors, identity=identity
        )
        return _binding_reply(session, binding, created)

    return await transact(runtime, work)


async def get_binding(runtime: Runtime, request: Request) -> Response:
    merchant_key, staff_key, key = path_keys(request, "merchant", "staff", "binding")

    def work(session: Session) -> Response:
        staff = _staff(session, merchant_key, staff_key)
        return _binding_reply(session, catalog.get_binding(session, staff, key))

    return await transact(runtime, work)


async def list_bindings(runtime: Runtime, request: Request) -> Response:
    merchant_key, staff_key = path_keys(request, "merchant", "staff")

    def work(session: Session) -> Response:
        bindings = staff_bindings(session, _staff(session, merchant_key, staff_key))
        counts = binding_counts(session, [binding.id for binding in bindings])
        return reply({"items": [binding_json(b, counts[b.id]) for b in bindings]})

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    staff = "/merchants/{merchant}/staff/{staff}"
    return [
        resource(runtime, "/merchants/{merchant}", get=get_merchant, put=put_merchant),
        resource(runtime, "/merchants/{merchant}/services/{service}",
                 get=get_service, put=put_service),
        resource(runtime, staff, get=get_staff, put=put_staff),
        resource(runtime, staff + "/calendars", get=list_bindings),
        resource(runtime, staff + "/calendars/{binding}", get=get_binding, put=put_binding),
    ]


_STAFF = "/merchants/{merchant}/staff/{staff}"
OPERATIONS = [
    Operation("get", "/merchants/{merchant}", "getMerchant", "A merchant", MerchantOut),
    Operation("put", "/merchants/{merchant}", "putMerchant",
              "Create a merchant (201) or change it (200)", MerchantOut,
              upsert=True, body=MerchantIn, refusals=(409,)),
    Operation("get", "/merchants/{merchant}/services/{service}", "getService",
              "A service", ServiceOut),
    Operation("put", "/merchants/{merchant}/services/{service}", "putService",
              "Create a service (201) or change it (200)", ServiceOut,
              upsert=True, body=ServiceIn, refusals=(409,)),
    Operation("get", _STAFF, "getStaff", "A staff member", StaffOut),
    Operation("put", _STAFF, "putStaff", "Create a staff member (201) or change them (200)",
              StaffOut, upsert=True, body=StaffIn, refusals=(409,)),
    Operation("get", _STAFF + "/calendars", "listBindings",
              "A staff member's bound calendars", BindingList),
    Operation("get", _STAFF + "/calendars/{binding}", "getBinding",
              "A bound calendar with its pending and dead mirrors", BindingOut),
    Operation("put", _STAFF + "/calendars/{binding}", "putBinding",
              "Bind a calendar (201) or change the binding (200); its calendar never changes",
              BindingOut, upsert=True, body=BindingIn, refusals=(409,)),
]

"""A merchant's conflicts between bookings and staff calendars, and watching a calendar now.

    GET  /merchants/{m}/conflicts[?status=open|resolved|all&limit=&cursor=]
    GET  /merchants/{m}/conflicts/{id}
    POST /merchants/{m}/conflicts/{id}/resolve   {"rule": "booking_wins"|"calendar_wins"|"dismiss"}
    GET  /merchants/{m}/staff/{s}/calendars/{b}/reconcile    the calendar's watch state
    POST /merchants/{m}/staff/{s}/calendars/{b}/reconcile    a pass now (202)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.api.answers import ConflictOut, ConflictPage, WatchStateOut
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply, path_id
from syncd.api.operation import Operation
from syncd.reconcile.models import ReconcileState
from syncd.reconcile.resolve import conflict_page, conflict_view, resolve
from syncd.reconcile.state import request_pass
from syncd.reconcile.views import conflict_json, state_json
from syncd.runtime import Runtime
from syncd.schemas import Strict, parse
from syncd.store import catalog
from syncd.store.models import CalendarBinding, Staff
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow

MAX_PAGE = 200


class ConflictQuery(Strict):
    status: Literal["open", "resolved", "all"] = "all"
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


class ResolveIn(Strict):
    rule: Literal["booking_wins", "calendar_wins", "dismiss"]


def _conflict_id(request: Request) -> int:
    return path_id(request, "conflict_id", "conflict")


async def list_conflicts(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    query = parse(ConflictQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        views, cursor = conflict_page(session, merchant, query.status, query.cursor, query.limit)
        return page_reply([conflict_json(view) for view in views], cursor)

    return await transact(runtime, work)


async def get_conflict(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    conflict_id = _conflict_id(request)

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        return reply(conflict_json(conflict_view(session, conflict_id, merchant)))

    return await transact(runtime, work)


async def resolve_conflict(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    conflict_id = _conflict_id(request)
    data = parse(ResolveIn, await read_body(runtime, request))

    def work(session: SyncdSession) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        view = resolve(session, conflict_id, merchant, data.rule, utcnow())
        return reply(conflict_json(view))

    return await transact(runtime, work)


def _binding(session: Session, request: Request) -> CalendarBinding:
    merchant_key, staff_key, key = path_keys(request, "merchant", "staff", "binding")
    merchant = catalog.get_merchant(session, merchant_key)
    staff = catalog.get_in_merchant(session, Staff, merchant, staff_key)
    return catalog.get_binding(session, staff, key)


async def get_watch(runtime: Runtime, request: Request) -> Response:
    def work(session: Session) -> Response:
        binding = _binding(session, request)
        return reply(state_json(session.get(ReconcileState, binding.id)))

    return await transact(runtime, work)


async def watch_now(runtime: Runtime, request: Request) -> Response:
    def work(session: Session) -> Response:
        binding = _binding(session, request)
        request_pass(session, binding.id)
        session.flush()
        body = state_json(session.get(ReconcileState, binding.id))
        return JSONResponse(body, status_code=202)

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    conflicts = "/merchants/{merchant}/conflicts"
    calendar = "/merchants/{merchant}/staff/{staff}/calendars/{binding}/reconcile"
    return [
        resource(runtime, conflicts, get=list_conflicts),
        resource(runtime, conflicts + "/{conflict_id:int}", get=get_conflict),
        resource(runtime, conflicts + "/{conflict_id:int}/resolve", post=resolve_conflict),
        resource(runtime, calendar, get=get_watch, post=watch_now),
    ]


_CONFLICTS = "/merchants/{merchant}/conflicts"
_CALENDAR = "/merchants/{merchant}/staff/{staff}/calendars/{binding}/reconcile"
OPERATIONS = [
    Operation("get", _CONFLICTS, "listConflicts",
              "A merchant's conflicts between bookings and staff calendars", ConflictPage,
              query=ConflictQuery),
    Operation("get", _CONFLICTS + "/{conflict_id:int}", "getConflict", "A conflict",
              ConflictOut),
    Operation("post", _CONFLICTS + "/{conflict_id:int}/resolve", "resolveConflict",
              "Resolve an open conflict by a rule", ConflictOut, body=ResolveIn,
              refusals=(409,)),
    Operation("get", _CALENDAR, "getWatchState", "A bound calendar's watch state",
              WatchStateOut),
    Operation("post", _CALENDAR, "reconcileNow", "Ask for a reconcile pass of the calendar now",
              WatchStateOut, status=202, refusals=(409,)),
]

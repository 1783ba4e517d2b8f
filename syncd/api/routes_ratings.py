"""A merchant's customer ratings, newest first.

    GET /merchants/{m}/ratings[?limit=&cursor=]
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import Row, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import RatingPage
from syncd.api.handling import MAX_CURSOR, MAX_ID, path_keys, resource, transact
from syncd.api.listing import page_reply
from syncd.api.operation import Operation
from syncd.manage.rating_models import BookingRating
from syncd.manage.ratings import rating_json
from syncd.runtime import Runtime
from syncd.schemas import Strict, parse
from syncd.store import catalog
from syncd.store.models import Booking, Service, Staff
from syncd.timeutil import utc_iso

MAX_PAGE = 200


class RatingQuery(Strict):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: int | None = Field(default=None, ge=0, le=MAX_CURSOR)  # a booking id: those before it


RatingRow = Row[BookingRating, int, str, datetime, str, str]


def _rows(session: Session, merchant_id: int, query: RatingQuery) -> list[RatingRow]:
    statement = (
        select(BookingRating, Booking.id, Booking.key, Booking.start, Service.key, Staff.key)
        .join(Booking, Booking.id == BookingRating.booking_id)
        .join(Service, Service.id == Booking.service_id)
        .join(Staff, Staff.id == Booking.staff_id)
        .where(BookingRating.merchant_id == merchant_id)
        .order_by(Booking.id.desc())
        .limit(query.limit + 1)
    )
    if query.cursor is not None and query.cursor <= MAX_ID:  # past every id: all of them
        statement = statement.where(Booking.id < query.cursor)
    return list(session.execute(statement))


def _item(row: RatingRow) -> dict[str, object]:
    rating, _, booking, start, service, staff = row
    shown = {"booking": booking, "service": service, "staff": staff,
             "start": utc_iso(start)}
    return shown | (rating_json(rating) or {})


async def list_ratings(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    query = parse(RatingQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        rows = _rows(session, merchant.id, query)
        more = len(rows) > query.limit
        cursor = rows[query.limit - 1][1] if more else None
        return page_reply([_item(row) for row in rows[:query.limit]], cursor)

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    return [resource(runtime, "/merchants/{merchant}/ratings", get=list_ratings)]


OPERATIONS = [
    Operation("get", "/merchants/{merchant}/ratings", "listRatings",
              "A merchant's customer ratings, newest booking first", RatingPage,
              query=RatingQuery),
]

"""Bookings pushed by the platform or made by an admin: put, cancel, clone, read, list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import BookingDetail, BookingPage
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply
from syncd.api.operation import Link, Operation
from syncd.api.queries import booking_mirrors, booking_page, booking_view
from syncd.api.serialize import JSON, booking_json, mirror_json
from syncd.runtime import Runtime
from syncd.schemas import BookingIn, CloneIn, Key, Strict, parse
from syncd.store import bookings, catalog
from syncd.store.models import Booking, Merchant, Staff
from syncd.store.session import SyncdSession

MAX_PAGE = 200


class BookingQuery(Strict):
    status: Literal["pending", "confirmed", "cancelled"] | None = None
    staff: Key | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


def _full_json(session: Session, booking: Booking) -> JSON:
    mirrors = [mirror_json(view) for view in booking_mirrors(session, booking)]
    return booking_json(booking_view(session, booking)) | {"mirrors": mirrors}


Body = TypeVar("Body", bound=BaseModel)
BookingWrite = Callable[[SyncdSession, Merchant, str, Body], tuple[Booking, bool]]


async def _write_booking(
    runtime: Runtime, request: Request, body: type[Body], write: BookingWrite[Body]
) -> Response:
    """`write` with the request's body to the booking its path names: the booking as it
    then stands, answered 201 when the write made it."""
    merchant_key, key = path_keys(request, "merchant", "booking")
    data = parse(body, await read_body(runtime, request))

    def work(session: SyncdSession) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        booking, created = write(session, merchant, key, data)
        return reply(_full_json(session, booking), created)

    return await transact(runtime, work)


async def put_booking(runtime: Runtime, request: Request) -> Response:
    return await _write_booking(runtime, request, BookingIn, bookings.put_booking)


async def get_booking(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "booking")

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        booking = catalog.get_in_merchant(session, Booking, merchant, key)
        return reply(_full_json(session, booking))

    return await transact(runtime, work)


async def cancel_booking(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "booking")

    def work(session: SyncdSession) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        return reply(_full_json(session, bookings.cancel_booking(session, merchant, key)))

    return await transact(runtime, work)


async def clone_booking(runtime: Runtime, request: Request) -> Response:
    return await _write_booking(runtime, request, CloneIn, bookings.clone_booking)


def _filters(
    session: Session, merchant: Merchant, query: BookingQuery
) -> list[ColumnElement[bool]]:
    filters = [Booking.merchant_id == merchant.id]
    if query.status is not None:
        filters.append(Booking.status == query.status)
    if query.staff is not None:
        staff = catalog.reference(session, Staff, merchant, query.staff, "staff")
        filters.append(Booking.staff_id == staff.id)
    return filters


async def list_bookings(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    query = parse(BookingQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        page = booking_page(session, _filters(session, merchant, query), query.cursor, query.limit)
        return page_reply([booking_json(view) for view in page.items], page.next_cursor)

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    booking = "/merchants/{merchant}/bookings/{booking}"
    return [
        resource(runtime, "/merchants/{merchant}/bookings", get=list_bookings),
        resource(runtime, booking, get=get_booking, put=put_booking),
        resource(runtime, booking + "/cancel", post=cancel_booking),
        resource(runtime, booking + "/clone", post=clone_booking),
    ]


# The links say how a booking goes on from being put: read, changed, cancelled, cloned (once
# cancelled). Only the put links onwards, so that stateful clients (schemathesis) start
# each history by making a booking rather than by guessing keys.
_BOOKING = {"merchant": "$request.path.merchant", "booking": "$request.path.booking"}
OPERATIONS = [
    Operation("get", "/merchants/{merchant}/bookings", "listBookings",
              "A merchant's bookings, oldest first, a page at a time",
              BookingPage, query=BookingQuery),
    Operation("get", "/merchants/{merchant}/bookings/{booking}", "getBooking",
              "A booking with its mirrors on the staff calendars", BookingDetail),
    Operation("put", "/merchants/{merchant}/bookings/{booking}", "putBooking",
              "Create a booking under the platform's id (201), or change it (200)",
              BookingDetail, upsert=True, body=BookingIn, refusals=(409,),
              links=(Link("GetBooking", "getBooking", _BOOKING),
                     Link("UpdateBooking", "putBooking", _BOOKING),
                     Link("CancelBooking", "cancelBooking", _BOOKING),
                     Link("CloneBooking", "cloneBooking", _BOOKING))),
    Operation("post", "/merchants/{merchant}/bookings/{booking}/cancel", "cancelBooking",
              "Cancel a booking (again: the same answer)", BookingDetail, refusals=(409,)),
    Operation("post", "/merchants/{merchant}/bookings/{booking}/clone", "cloneBooking",
              "Make a cancelled booking anew under a new key (201; 200 when it was made)",
              BookingDetail, upsert=True, body=CloneIn, refusals=(409,)),
]

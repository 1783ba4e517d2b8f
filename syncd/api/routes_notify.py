"""Notification settings (per merchant, per staff member) and the mail outbox."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import MerchantNotificationsOut, OutboxOut, OutboxPage, StaffNotificationsOut
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply, path_id
from syncd.api.operation import Operation
from syncd.api.serialize import JSON
from syncd.errors import NotFound
from syncd.notify import preferences
from syncd.notify.models import OutboxMessage
from syncd.notify.outbox import retry_now
from syncd.notify.schemas import MerchantNotificationsIn, StaffNotificationsIn
from syncd.runtime import Runtime
from syncd.schemas import Key, Strict, parse
from syncd.store import catalog
from syncd.store.models import Booking, Merchant, Staff
from syncd.timeutil import utc_iso_or_none, utcnow

MAX_PAGE = 200


class OutboxQuery(Strict):
    state: Literal["queued", "sending", "sent", "failed", "withdrawn"] | None = None
    merchant: Key | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


def _merchant_json(session: Session, merchant: Merchant) -> JSON:
    settings = preferences.merchant_settings(session, merchant.id)
    return {
        "addresses": list(settings.addresses),
        "reply_to": settings.reply_to,
        "events": preferences.merchant_events(settings),
    }


async def get_merchant_settings(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")

    def work(session: Session) -> Response:
        return reply(_merchant_json(session, catalog.get_merchant(session, merchant_key)))

    return await transact(runtime, work)


async def put_merchant_settings(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")
    data = parse(MerchantNotificationsIn, await read_body(runtime, request))

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        preferences.put_merchant_settings(session, merchant, data)
        return reply(_merchant_json(session, merchant))

    return await transact(runtime, work)


def _staff(session: Session, merchant_key: str, staff_key: str) -> Staff:
    merchant = catalog.get_merchant(session, merchant_key)
    return catalog.get_in_merchant(session, Staff, merchant, staff_key)


async def get_staff_settings(runtime: Runtime, request: Request) -> Response:
    merchant_key, staff_key = path_keys(request, "merchant", "staff")

    def work(session: Session) -> Response:
        staff = _staff(session, merchant_key, staff_key)
        return reply({"events": preferences.staff_events(session, staff)})

    return await transact(runtime, work)


async def put_staff_settings(runtime: Runtime, request: Request) -> Response:
    merchant_key, staff_key = path_keys(request, "merchant", "staff")
    data = parse(StaffNotificationsIn, await read_body(runtime, request))

    def work(session: Session) -> Response:
        staff = _staff(session, merchant_key, staff_key)
        preferences.put_staff_settings(session, staff, data)
        return reply({"events": preferences.staff_events(session, staff)})

    return await transact(runtime, work)


def outbox_json(row: OutboxMessage, merchant: str, booking: str | None) -> JSON:
    return {
        "id": row.id,
        "merchant": merchant,
        "booking": booking,
        "kind": row.kind,
        "audience": row.audience,
        "to": row.to_address,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": utc_iso_or_none(row.next_attempt_at),
        "last_error": row.last_error,
        "message_id": row.message_id,
        "queued_at": utc_iso_or_none(row.queued_at),
        "sent_at": utc_iso_or_none(row.sent_at),
    }


def _outbox_rows(session: Session, filters: list[ColumnElement[bool]], limit: int) -> list[Any]:
    query = (
        select(OutboxMessage, Merchant.key, Booking.key)
        .join(Merchant, OutboxMessage.merchant_id == Merchant.id)
        .outerjoin(Booking, OutboxMessage.booking_id == Booking.id)
        .where(*filters)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


async def list_outbox(runtime: Runtime, request: Request) -> Response:
    query = parse(OutboxQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        filters = [OutboxMessage.id > query.cursor]
        if query.state is not None:
            filters.append(OutboxMessage.state == query.state)
        if query.merchant is not None:
            filters.append(Merchant.key == query.merchant)
        rows = _outbox_rows(session, filters, query.limit + 1)
        more = len(rows) > query.limit
        items = [outbox_json(*row) for row in rows[: query.limit]]
        return page_reply(items, items[-1]["id"] if more else None)

    return await transact(runtime, work)


async def retry_outbox(runtime: Runtime, request: Request) -> Response:
    outbox_id = path_id(request, "outbox_id", "outbox message")

    def work(session: Session) -> Response:
        rows = _outbox_rows(session, [OutboxMessage.id == outbox_id], 1)
        if not rows:
            raise NotFound(f"outbox message {outbox_id}")
        retry_now(session, rows[0][0], utcnow())
        return reply(outbox_json(*rows[0]))

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    merchant = "/merchants/{merchant}"
    return [
        resource(runtime, merchant + "/notifications",
                 get=get_merchant_settings, put=put_merchant_settings),
        resource(runtime, merchant + "/staff/{staff}/notifications",
                 get=get_staff_settings, put=put_staff_settings),
        resource(runtime, "/outbox", get=list_outbox),
        resource(runtime, "/outbox/{outbox_id:int}/retry", post=retry_outbox),
    ]


OPERATIONS = [
    Operation("get", "/merchants/{merchant}/notifications", "getMerchantNotifications",
              "Who at the merchant is told of what", MerchantNotificationsOut),
    Operation("put", "/merchants/{merchant}/notifications", "putMerchantNotifications",
              "Set who at the merchant is told of what", MerchantNotificationsOut,
              body=MerchantNotificationsIn, refusals=(409,)),
    Operation("get", "/merchants/{merchant}/staff/{staff}/notifications",
              "getStaffNotifications", "What a staff member is told of",
              StaffNotificationsOut),
    Operation("put", "/merchants/{merchant}/staff/{staff}/notifications",
              "putStaffNotifications", "Set what a staff member is told of",
              StaffNotificationsOut, body=StaffNotificationsIn, refusals=(409,)),
    Operation("get", "/outbox", "listOutbox", "The mail outbox, a page at a time",
              OutboxPage, query=OutboxQuery),
    Operation("post", "/outbox/{outbox_id:int}/retry", "retryOutbox",
              "Send a failed or queued message again now", OutboxOut, refusals=(409,)),
]

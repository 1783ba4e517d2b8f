"""A merchant's webhook subscriptions and their deliveries.

    PUT    /merchants/{m}/webhooks/{key}                 create (201, with the secret) or update
    GET    /merchants/{m}/webhooks[/{key}]               read; never the secret
    DELETE /merchants/{m}/webhooks/{key}                 with its deliveries
    POST   /merchants/{m}/webhooks/{key}/rotate-secret   a new secret, shown once
    GET    /merchants/{m}/webhooks/{key}/deliveries      ?state=failed|pending|delivered
    POST   /merchants/{m}/webhooks/{key}/deliveries/{id}/redeliver
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import DeliveryOut, DeliveryPage, WebhookList, WebhookOut, WebhookWithSecret
from syncd.api.handling import AfterCursor, path_keys, read_body, reply, resource, transact
from syncd.api.listing import page_reply, path_id
from syncd.api.operation import Operation
from syncd.errors import InputError, NotFound
from syncd.runtime import Runtime
from syncd.schemas import Strict, parse
from syncd.store import catalog
from syncd.webhooks import subscriptions as subs
from syncd.webhooks.destinations import DestinationPolicy
from syncd.webhooks.models import WebhookDelivery, WebhookSubscription
from syncd.webhooks.views import delivery_json, subscription_json

MAX_PAGE = 200


class DeliveryQuery(Strict):
    state: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


def _subscription(session: Session, request: Request) -> WebhookSubscription:
    merchant_key, key = path_keys(request, "merchant", "webhook")
    merchant = catalog.get_merchant(session, merchant_key)
    return subs.get_subscription(session, merchant, key)


def _subscription_reply(
    session: Session, subscription: WebhookSubscription, secret: str | None = None
) -> Response:
    counts = subs.delivery_counts(session, [subscription.id])[subscription.id]
    body = subscription_json(subscription, counts)
    if secret is not None:
        body["secret"] = secret
    return reply(body, created=secret is not None)


async def put_webhook(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "webhook")
    data = parse(subs.WebhookIn, await read_body(runtime, request))
    allowed = DestinationPolicy.of(runtime.settings.webhooks.allow_destinations)
    problem = allowed.literal_problem(str(data.url))
    if problem is not None:
        raise InputError({"url": problem})

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        subscription, secret = subs.upsert_subscription(session, merchant, key, data)
        return _subscription_reply(session, subscription, secret)

    return await transact(runtime, work)


async def get_webhook(runtime: Runtime, request: Request) -> Response:
    return await transact(runtime, lambda s: _subscription_reply(s, _subscription(s, request)))


async def delete_webhook(runtime: Runtime, request: Request) -> Response:
    def work(session: Session) -> Response:
        subs.delete_subscription(session, _subscription(session, request))
        return Response(status_code=204)

    return await transact(runtime, work)


async def list_webhooks(runtime: Runtime, request: Request) -> Response:
    (merchant_key,) = path_keys(request, "merchant")

    def work(session: Session) -> Response:
        merchant = catalog.get_merchant(session, merchant_key)
        found = subs.merchant_subscriptions(session, merchant)
        counts = subs.delivery_counts(session, [s.id for s in found])
        return reply({"items": [subscription_json(s, counts[s.id]) for s in found]})

    return await transact(runtime, work)


async def rotate_secret(runtime: Runtime, request: Request) -> Response:
    overlap = timedelta(hours=runtime.settings.webhooks.secret_overlap_hours)

    def work(session: Session) -> Response:
        subscription = _subscription(session, request)
        secret = subs.rotate_secret(session, subscription, overlap)
        counts = subs.delivery_counts(session, [subscription.id])[subscription.id]
        return reply(subscription_json(subscription, counts) | {"secret": secret})

    return await transact(runtime, work)


def _delivery_filters(
    subscription: WebhookSubscription, query: DeliveryQuery
) -> list[ColumnElement[bool]]:
    filters = [WebhookDelivery.subscription_id == subscription.id]
    if query.state is not None:
        filters.append(WebhookDelivery.state == query.state)
    return filters


async def list_deliveries(runtime: Runtime, request: Request) -> Response:
    query = parse(DeliveryQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        filters = _delivery_filters(_subscription(session, request), query)
        rows = subs.deliveries(session, filters, query.cursor, query.limit)
        more = len(rows) > query.limit
        cursor = rows[query.limit - 1].id if more else None
        return page_reply([delivery_json(d) for d in rows[: query.limit]], cursor)

    return await transact(runtime, work)


async def redeliver(runtime: Runtime, request: Request) -> Response:
    delivery_id = path_id(request, "delivery", "webhook delivery")

    def work(session: Session) -> Response:
        subscription = _subscription(session, request)
        delivery = subs.get_delivery(session, delivery_id)
        if delivery.subscription_id != subscription.id:
            raise NotFound(f"webhook delivery {delivery_id}")
        subs.redeliver(session, delivery)
        return reply(delivery_json(delivery))

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    webhook = "/merchants/{merchant}/webhooks/{webhook}"
    return [
        resource(runtime, "/merchants/{merchant}/webhooks", get=list_webhooks),
        resource(runtime, webhook, get=get_webhook, put=put_webhook, delete=delete_webhook),
        resource(runtime, webhook + "/rotate-secret", post=rotate_secret),
        resource(runtime, webhook + "/deliveries", get=list_deliveries),
        resource(runtime, webhook + "/deliveries/{delivery:int}/redeliver", post=redeliver),
    ]


_WEBHOOK = "/merchants/{merchant}/webhooks/{webhook}"
OPERATIONS = [
    Operation("get", "/merchants/{merchant}/webhooks", "listWebhooks",
              "A merchant's webhook subscriptions", WebhookList),
    Operation("get", _WEBHOOK, "getWebhook", "A webhook subscription, without its secret",
              WebhookOut),
    Operation("put", _WEBHOOK, "putWebhook",
              "Subscribe (201, with the signing secret, shown once) or change it (200)",
              WebhookOut, upsert=True, created_answer=WebhookWithSecret, body=subs.WebhookIn,
              refusals=(409,)),
    Operation("delete", _WEBHOOK, "deleteWebhook", "Unsubscribe, with every delivery", None,
              status=204, refusals=(409,)),
    Operation("post", _WEBHOOK + "/rotate-secret", "rotateWebhookSecret",
              "A new signing secret, shown once; the old one stays valid for a while",
              WebhookWithSecret, refusals=(409,)),
    Operation("get", _WEBHOOK + "/deliveries", "listDeliveries",
              "A subscription's deliveries, a page at a time", DeliveryPage,
              query=DeliveryQuery),
    Operation("post", _WEBHOOK + "/deliveries/{delivery:int}/redeliver", "redeliver",
              "Deliver an event again", DeliveryOut, refusals=(409,)),
]

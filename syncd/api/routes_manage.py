"""A booking's manage links, for the admin: issue a new one, or revoke them all."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import ManageLinkOut, RevokedOut
from syncd.api.handling import path_keys, reply, resource, transact
from syncd.api.operation import Operation
from syncd.errors import Conflict
from syncd.manage.ratings import revoke_rating_links
from syncd.manage.tokens import manage_link, revoke_links
from syncd.runtime import Runtime
from syncd.store import catalog
from syncd.store.models import Booking
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow


def _booking(session: Session, merchant_key: str, key: str) -> Booking:
    merchant = catalog.get_merchant(session, merchant_key)
    return catalog.get_in_merchant(session, Booking, merchant, key, lock=True)


async def issue_link(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "booking")

    def work(session: SyncdSession) -> Response:
        url = manage_link(session, _booking(session, merchant_key, key))
        if url is None:
            raise Conflict(
                "no manage link: this booking may not be managed (rules, status, or it has"
                " ended) or manage.public_url is not set"
            )
        return reply({"url": url}, created=True)

    return await transact(runtime, work)


async def revoke(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "booking")

    def work(session: Session) -> Response:
        booking = _booking(session, merchant_key, key)
        revoked = revoke_links(session, booking) + revoke_rating_links(session, booking, utcnow())
        return reply({"revoked": revoked})

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    path = "/merchants/{merchant}/bookings/{booking}/manage-links"
    return [resource(runtime, path, post=issue_link, delete=revoke)]


_LINKS = "/merchants/{merchant}/bookings/{booking}/manage-links"
OPERATIONS = [
    Operation("post", _LINKS, "issueManageLink",
              "A new manage link for the booking's customer (409: it may not be managed)",
              ManageLinkOut, status=201, refusals=(409,)),
    Operation("delete", _LINKS, "revokeManageLinks",
              "Revoke every manage and rating link of the booking", RevokedOut,
              refusals=(409,)),
]

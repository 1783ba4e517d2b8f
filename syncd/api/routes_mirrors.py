"""Mirrors across merchants: the dead letters and the pending work, and a retry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import MirrorListingOut, MirrorPage
from syncd.api.handling import AfterCursor, reply, resource, transact
from syncd.api.listing import page_reply, path_id
from syncd.api.operation import Operation
from syncd.api.queries import mirror_page, mirror_view
from syncd.api.serialize import mirror_listing_json
from syncd.runtime import Runtime
from syncd.schemas import Strict, parse
from syncd.store.mirrors import retry_mirror

MAX_PAGE = 200


class MirrorQuery(Strict):
    state: Literal["dead", "pending"] | None = None  # None: both
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: AfterCursor = 0


async def list_mirrors(runtime: Runtime, request: Request) -> Response:
    query = parse(MirrorQuery, dict(request.query_params))

    def work(session: Session) -> Response:
        page = mirror_page(session, query.state, query.cursor, query.limit)
        return page_reply([mirror_listing_json(view) for view in page.items], page.next_cursor)

    return await transact(runtime, work)


async def retry(runtime: Runtime, request: Request) -> Response:
    mirror_id = path_id(request, "mirror_id", "mirror")

    def work(session: Session) -> Response:
        view = mirror_view(session, mirror_id)
        retry_mirror(session, view.mirror)
        return reply(mirror_listing_json(view))

    return await transact(runtime, work)


def routes(runtime: Runtime) -> list[Route]:
    return [
        resource(runtime, "/mirrors", get=list_mirrors),
        resource(runtime, "/mirrors/{mirror_id:int}/retry", post=retry),
    ]


OPERATIONS = [
    Operation("get", "/mirrors", "listMirrors",
              "Dead and pending mirrors across merchants, a page at a time", MirrorPage,
              query=MirrorQuery),
    Operation("post", "/mirrors/{mirror_id:int}/retry", "retryMirror",
              "Retry a mirror now, a dead one included", MirrorListingOut, refusals=(409,)),
]

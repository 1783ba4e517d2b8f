"""Rating a booking: 1 to 5 stars and an optional comment, then a thank-you page.

Reached from the rating request mail (syncd.manage.ratings: its link, its rules).
A GET shows the form (with the rating so far, while it may change); the POST
stores it and redirects to the done page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from syncd.manage.errors import ActionClosed
from syncd.manage.rating_service import give_rating
from syncd.manage.ratings import MAX_COMMENT, RatingPage, rating_page
from syncd.timeutil import zone
from syncd.web.context import Web, see_other, token_of
from syncd.web.csrf import FIELD
from syncd.web.errors import CsrfError
from syncd.web.forms import optional_comment, read_form, required_stars

STARS = (5, 4, 3, 2, 1)


async def _page(web: Web, token: str) -> RatingPage:
    now = web.clock()
    return await web.transact(lambda session: rating_page(session, token, now))


def _context(page: RatingPage, token: str) -> dict[str, Any]:
    customer_zone = zone(page.customer_timezone)
    return {
        "token": token, "merchant_name": page.merchant_name, "rating": page.rating,
        "service_name": page.service_name, "staff_name": page.staff_name,
        "start_local": page.start.astimezone(customer_zone),
        "end_local": page.end.astimezone(customer_zone),
        "open": page.open_until is not None, "stars": STARS, "max_comment": MAX_COMMENT,
        "change_until": _until(page, customer_zone),
    }


def _until(page: RatingPage, customer_zone: Any) -> datetime | None:
    if page.rating is None or page.open_until is None:
        return None
    return page.open_until.astimezone(customer_zone)


async def ask(web: Web, request: Request) -> Response:
    """GET /{token}/rate: the booking and the rating form."""
    token = token_of(request)
    page = await _page(web, token)
    return web.pages.render(request, "rate.html", _context(page, token), form_for=token)


async def give(web: Web, request: Request) -> Response:
    """POST /{token}/rate: store the rating, then show the thank-you page."""
    token = token_of(request)
    form = await read_form(request)
    if not web.csrf.verify(request, token, form.get(FIELD)):
        raise CsrfError
    stars, comment = required_stars(form), optional_comment(form, MAX_COMMENT)
    now = web.clock()
    try:
        await web.transact(lambda session: give_rating(session, token, stars, comment, now))
    except ActionClosed as closed:
        context = _context(await _page(web, token), token) | {"refused": closed.reason}
        return web.pages.render(request, "rate.html", context, status=409)
    return see_other(request, token, "rated")


async def done(web: Web, request: Request) -> Response:
    """GET /{token}/rated: thank you, and the rating as stored."""
    token = token_of(request)
    page = await _page(web, token)
    if page.rating is None:
        return see_other(request, token, "rate")
    return web.pages.render(request, "rated.html", _context(page, token))

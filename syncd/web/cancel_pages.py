"""Cancelling: a confirmation step, then the done page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.domain.manage_rules import Action
from syncd.manage.errors import ActionClosed
from syncd.manage.service import cancel
from syncd.web.booking_pages import load_page
from syncd.web.context import Web, see_other, token_of
from syncd.web.csrf import FIELD
from syncd.web.errors import CsrfError
from syncd.web.forms import read_form
from syncd.web.reschedule_pages import render_closed

CLOSED_TITLE = "This booking cannot be cancelled online"


async def ask(web: Web, request: Request) -> Response:
    """GET /{token}/cancel: what would be cancelled, and the button that does it."""
    token = token_of(request)
    page = await load_page(web, token)
    if page.status == "cancelled":
        return see_other(request, token, "cancelled")
    state = page.actions.get(Action.CANCEL)
    if state is None or not state.allowed:
        reason = (state.reason if state else None) or "Cancelling online is not possible."
        return render_closed(web, request, token, page, title=CLOSED_TITLE, reason=reason,
                             status=200)
    context = {"page": page, "merchant_name": page.merchant_name, "token": token}
    return web.pages.render(request, "cancel.html", context, form_for=token)


async def confirm(web: Web, request: Request) -> Response:
    """POST /{token}/cancel: cancel the booking, then show the done page."""
    token = token_of(request)
    form = await read_form(request)
    if not web.csrf.verify(request, token, form.get(FIELD)):
        raise CsrfError
    now = web.clock()
    try:
        await web.transact(lambda session: cancel(session, token, now))
    except ActionClosed as closed:
        page = await load_page(web, token)
        if page.status == "cancelled":
            return see_other(request, token, "cancelled")  # a repeated Confirm
        return render_closed(web, request, token, page, title=CLOSED_TITLE,
                             reason=closed.reason, status=409)
    return see_other(request, token, "cancelled")

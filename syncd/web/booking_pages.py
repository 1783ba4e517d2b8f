"""The booking's details page and the done pages shown after a change."""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response

from syncd.domain.manage_rules import Action, ActionState
from syncd.errors import NotFound
from syncd.manage.details import DETAILS_ROW, details_page
from syncd.manage.tokens import token_digest
from syncd.manage.views import BookingPage
from syncd.timetext import time_span
from syncd.web.context import Web, page_url, token_of

# (action, what the customer reads, the page it opens, whether it is destructive)
_ACTIONS = (
    (Action.RESCHEDULE, "Reschedule", "reschedule", False),
    (Action.CHANGE_STAFF, "Change staff member", "reschedule", False),
    (Action.CANCEL, "Cancel booking", "cancel", True),
)


class ActionRow(NamedTuple):
    label: str
    href: str
    allowed: bool
    reason: str | None
    danger: bool


class ClosedGroup(NamedTuple):
    labels: list[str]
    reason: str


_NOT_OFFERED = ActionState(False, None)


def closed_groups(rows: list[ActionRow]) -> list[ClosedGroup]:
    """The closed actions, one entry per distinct reason (often one reason closes all)."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        if not row.allowed:
            groups.setdefault(row.reason or "Not possible online.", []).append(row.label)
    return [ClosedGroup(labels, reason) for reason, labels in groups.items()]


def action_rows(request: Request, token: str, page: BookingPage) -> list[ActionRow]:
    link = page_url(request, token)
    rows = []
    for action, label, target, danger in _ACTIONS:
        state = page.actions.get(action) or _NOT_OFFERED
        rows.append(ActionRow(label, f"{link}/{target}", state.allowed, state.reason, danger))
    return rows


async def load_page(web: Web, token: str) -> BookingPage:
    digest = token_digest(token)
    row = None if digest is None else await web.reads.one(DETAILS_ROW, {"digest": digest})
    page = details_page(row, digest or "", web.clock())
    if page is None:
        raise NotFound("manage link")
    return page


def render_details(
    web: Web, request: Request, token: str, page: BookingPage, done: str | None = None
) -> Response:
    rows = action_rows(request, token, page)
    heading, notice = _headline(page, done)
    context = {
        "page": page,
        "merchant_name": page.merchant_name,
        "token": token,
        "open_actions": [row for row in rows if row.allowed],
        "closed_groups": closed_groups(rows),
        "heading": heading,
        "notice": notice,
        "done": done,
    }
    return web.pages.render(request, "details.html", context)


def _headline(page: BookingPage, done: str | None) -> tuple[str, str | None]:
    if done == "rescheduled":
        when = time_span(page.start_local, page.end_local)
        notice = f"Your booking is now on {when} with {page.staff_name}."
        return "Your booking has been moved", notice
    if done == "cancelled" and page.status == "cancelled":
        when = time_span(page.start_local, page.end_local)
        return "Your booking is cancelled", f"Your booking on {when} is cancelled."
    return "Your booking", None


async def details(web: Web, request: Request) -> Response:
    token = token_of(request)
    return render_details(web, request, token, await load_page(web, token))


async def rescheduled(web: Web, request: Request) -> Response:
    token = token_of(request)
    return render_details(web, request, token, await load_page(web, token), "rescheduled")


async def cancelled(web: Web, request: Request) -> Response:
    token = token_of(request)
    return render_details(web, request, token, await load_page(web, token), "cancelled")

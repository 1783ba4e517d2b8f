"""The connect pages every kind shares, and CalDAV's:

    GET  /{token}             what is connected (state, Disconnect, Reconnect), or the choice
    GET  /{token}/caldav      address or server, user name, password
    POST /{token}/caldav      find the calendars (or say what went wrong), then choose
    GET  /{token}/calendars   the calendars found, to choose one
    POST /{token}/calendars   bind it; back to the first page, which shows it connected
    POST /{token}/disconnect  stop syncing it (its events stay)
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from syncd.config.stored_accounts import identity_of
from syncd.connect import binding as connecting
from syncd.connect.caldav import find_calendars
from syncd.connect.drafts import keep_draft
from syncd.connect.problems import ConnectError
from syncd.connect.views import link_view
from syncd.store.connect_tokens import ConnectToken
from syncd.store.session import SyncdSession
from syncd.web.connect.site import ConnectSite, see_other, token_of
from syncd.web.errors import BadInputError

_LIMITS = {"address": 512, "username": 320, "password": 1024}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BINDING_KEY = re.compile(r"^connect\.[0-9]+\.[0-9a-f]{12}$")


async def start(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    view = await site.with_link(token, link_view)
    context = {"view": view, "token": token, "merchant_name": view.merchant_name,
               "connected": request.query_params.get("connected") == "1",
               "m365": site.m365_offered}
    return site.web.pages.render(request, "connect/start.html", context, form_for=token)


async def caldav_form(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    view = await site.with_link(token, link_view)
    return _caldav_page(site, request, token, view.merchant_name, {})


def _caldav_page(
    site: ConnectSite, request: Request, token: str, merchant_name: str,
    typed: dict[str, str], *, problem: ConnectError | None = None,
) -> Response:
    context: dict[str, Any] = {"token": token, "merchant_name": merchant_name,
                               "typed": typed, "problem": problem}
    status = 200 if problem is None else 422
    return site.web.pages.render(request, "connect/caldav.html", context, status=status,
                                 form_for=token)


async def caldav_find(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    form = await site.checked_form(request, token)
    address, username, password = (_field(form, name) for name in _LIMITS)
    if not username and "@" not in address:
        raise BadInputError("Please fill in the user name: the address is not an email address.")
    view = await site.with_link(token, link_view)  # a link that no longer works finds nothing
    try:
        draft = await find_calendars(
            address, username or address, password, site.discovery,
            private_addresses=site.settings.allow_private_addresses)
    except ConnectError as problem:
        typed = {"address": address, "username": username}
        return _caldav_page(site, request, token, view.merchant_name, typed, problem=problem)
    now = site.now()
    await site.with_link(token, lambda s, link: keep_draft(s, link, draft, site.seal, now),
                         lock=True)
    return see_other(request, token, "calendars")


def _field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip() if name != "password" else form.get(name, "")
    if not value and name != "username":
        raise BadInputError(f"Please fill in the {name}.")
    if len(value) > _LIMITS[name] or _CONTROL.search(value):
        raise BadInputError(f"The {name} is not one a calendar account has.")
    return value


async def calendars(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)

    def read(session: SyncdSession, link: ConnectToken) -> dict[str, Any] | None:
        draft = site.draft_of(link)
        if draft is None:
            return None
        view = link_view(session, link)
        return {"draft": draft, "merchant_name": view.merchant_name, "token": token,
                "account": draft.settings.get("user") or draft.settings.get("username")}

    context = await site.with_link(token, read)
    if context is None:  # nothing found yet, or found too long ago: start again
        return see_other(request, token)
    return site.web.pages.render(request, "connect/calendars.html", context, form_for=token)


async def choose(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    form = await site.checked_form(request, token)
    chosen = form.get("calendar", "")

    def bind(session: SyncdSession, link: ConnectToken) -> bool:
        draft = site.draft_of(link)
        if draft is None:
            return False
        tables = site.web.runtime.settings.connectors
        identity = identity_of(draft.settings, chosen, tables, stored=True)
        connecting.connect(session, link, draft, chosen, site.seal, identity=identity)
        return True

    bound = await site.with_link(token, bind, lock=True)
    return see_other(request, token, query="connected=1" if bound else "")


async def disconnect(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    form = await site.checked_form(request, token)
    key = form.get("binding", "")
    if not _BINDING_KEY.match(key):
        raise BadInputError("That calendar is not one this page showed.")
    await site.with_link(token, lambda s, link: connecting.disconnect(s, link, key), lock=True)
    return see_other(request, token)

"""Microsoft 365 / Outlook on the connect pages:

    GET       /{token}/m365          sign in with Microsoft; or name your mailbox where the
                                      business's organisation has consented
    GET       /{token}/m365/sign-in  to Microsoft's sign-in (the flow kept sealed, on the link)
    GET|POST  /m365/callback         Microsoft's answer (form_post: a POST from its page): the
                                      link is found by the answer's state, then the calendars
    POST      /{token}/m365/mailbox  the consented organisation's mailbox, then its calendars
    GET       /m365/consent          Microsoft's answer to a merchant's admin consent link
                                      (syncd/connect/consent.py): the organisation's tenant

The callback carries no CSRF token (Microsoft's page posts it, without our cookie):
the state, random and single-use, tied to one link's flow, is what protects it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from syncd.connect import consent, m365
from syncd.connect.drafts import Draft, drop_draft, keep_draft
from syncd.connect.problems import ConnectError
from syncd.connect.views import link_view, organisation_account
from syncd.errors import NotFound
from syncd.store.catalog import get_merchant
from syncd.store.connect_tokens import ConnectToken, find_by_sign_in_state, sign_in_state_hash
from syncd.store.session import SyncdSession
from syncd.web.connect.site import ConnectSite, see_other, token_of
from syncd.web.forms import read_form

CALLBACK_FORM_BYTES = 16384  # an authorization code, its state and Entra's session fields
_MAX_ADDRESS = 320


def _app(site: ConnectSite) -> m365.M365App:
    if site.m365 is None:  # the routes are mounted only with an app registration
        raise NotFound("Microsoft 365 is not configured")
    return site.m365


async def choose(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    _app(site)
    context = await site.with_link(token, lambda s, link: _context(s, link, token))
    return site.web.pages.render(request, "connect/m365.html", context, form_for=token)


def _context(session: SyncdSession, link: ConnectToken, token: str,
             problem: ConnectError | None = None) -> dict[str, Any]:
    view = link_view(session, link)
    organisation = organisation_account(session, link.staff.merchant_id) is not None
    return {"token": token, "merchant_name": view.merchant_name, "organisation": organisation,
            "problem": problem, "email": link.staff.email or ""}


async def sign_in(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    app = _app(site)
    email = await site.with_link(token, lambda _, link: link.staff.email)
    try:
        url, flow = await m365.start_sign_in(app, email)
    except ConnectError as problem:
        return await _problem_page(site, request, token, problem)
    draft = Draft("m365_sign_in", flow=flow, token=token)
    now = site.now()

    def keep(session: SyncdSession, link: ConnectToken) -> None:
        keep_draft(session, link, draft, site.seal, now)
        link.sign_in_state = sign_in_state_hash(str(flow["state"]))

    await site.with_link(token, keep, lock=True)
    return RedirectResponse(url, status_code=303)


async def callback(site: ConnectSite, request: Request) -> Response:
    app = _app(site)
    reply = dict(request.query_params) if request.method == "GET" else \
        await read_form(request, CALLBACK_FORM_BYTES)
    now = site.now()

    def take(session: SyncdSession) -> tuple[ConnectToken, Draft]:
        link = find_by_sign_in_state(session, reply.get("state", ""), now)
        draft = site.draft_of(link) if link is not None else None
        if link is None or draft is None or draft.kind != "m365_sign_in" or not draft.token:
            raise NotFound("sign-in")
        link.sign_in_state = None  # single use
        drop_draft(link)
        return link, draft

    _, started = await site.web.transact(take)
    token = str(started.token)
    try:
        draft = await m365.finish_sign_in(app, started.flow or {}, reply)
    except ConnectError as problem:
        return await _problem_page(site, request, token, problem)
    await site.with_link(token, lambda s, link: keep_draft(s, link, draft, site.seal, now),
                         lock=True)
    return see_other(request, token, "calendars")


async def mailbox(site: ConnectSite, request: Request) -> Response:
    token = token_of(request)
    _app(site)
    form = await site.checked_form(request, token)
    address = form.get("mailbox", "").strip()[:_MAX_ADDRESS]

    def organisation(session: SyncdSession, link: ConnectToken) -> tuple[str, dict[str, Any]]:
        account = organisation_account(session, link.staff.merchant_id)
        if account is None:
            raise NotFound("organisation")
        return account.key, json.loads(account.settings)

    key, settings = await site.with_link(token, organisation)
    try:
        draft = await m365.mailbox_calendars(settings, key, address)
    except ConnectError as problem:
        return await _problem_page(site, request, token, problem)
    now = site.now()
    await site.with_link(token, lambda s, link: keep_draft(s, link, draft, site.seal, now),
                         lock=True)
    return see_other(request, token, "calendars")


async def _problem_page(
    site: ConnectSite, request: Request, token: str, problem: ConnectError
) -> Response:
    context = await site.with_link(token, lambda s, link: _context(s, link, token, problem))
    return site.web.pages.render(request, "connect/m365.html", context, status=422,
                                 form_for=token)


CONSENTED_TEXT = ("Your organisation is connected. Your staff can now connect their work "
                  "calendars from their connect links, by their work email address, without "
                  "signing in.")


async def consented(site: ConnectSite, request: Request) -> Response:
    app = _app(site)
    reply = dict(request.query_params)
    merchant_key = consent.merchant_of(site.seal, reply.get("state", ""), site.now())
    if merchant_key is None:
        raise NotFound("consent")
    try:
        tenant = consent.consented_tenant(reply)
    except ConnectError as problem:
        name = await site.web.transact(lambda s: get_merchant(s, merchant_key).name)
        return _message(site, request, name, (problem.title, problem.text), status=422)

    def record(session: SyncdSession) -> str:
        consent.record_organisation(session, app, merchant_key, tenant)
        return get_merchant(session, merchant_key).name

    name = await site.web.transact(record)
    return _message(site, request, name, ("Organisation connected", CONSENTED_TEXT), status=200)


def _message(
    site: ConnectSite, request: Request, merchant_name: str, words: tuple[str, str], *,
    status: int,
) -> Response:
    title, text = words
    context = {"title": title, "text": text, "status": status, "merchant_name": merchant_name}
    return site.web.pages.render(request, "error.html", context, status=status)

"""A staff member's connect links, for the admin: issue one (and email it), or revoke them all.

The link opens the connect page (syncd/web/connect/), where the staff member
connects their own calendar: an account of the merchant's and a binding are
made from what they choose there.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.api.answers import ConnectLinkOut, ConsentLinkOut, RevokedOut
from syncd.api.handling import path_keys, reply, resource, transact
from syncd.api.operation import Operation
from syncd.connect.consent import consent_link
from syncd.connect.m365 import find_app
from syncd.errors import ConfigError, Conflict
from syncd.notify.connect_notice import send_connect_link
from syncd.runtime import Runtime
from syncd.store import catalog
from syncd.store.connect_tokens import connect_link, issue_connect_token, revoke_connect_tokens
from syncd.store.models import Staff
from syncd.store.session import SyncdSession
from syncd.timeutil import utc_iso, utcnow

NO_PUBLIC_URL = "no connect link: manage.public_url is not set, so no link could be opened"
NO_M365_APP = ("no consent link: no Microsoft 365 app registration ([connectors.<name>] of kind "
               "m365, or [connect] m365_app) or no manage.public_url")


def _staff(session: Session, merchant_key: str, key: str) -> Staff:
    merchant = catalog.get_merchant(session, merchant_key)
    return catalog.get_in_merchant(session, Staff, merchant, key, lock=True)


async def issue_link(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "staff")
    days = runtime.settings.connect.link_days

    def work(session: SyncdSession) -> Response:
        staff, now = _staff(session, merchant_key, key), utcnow()
        if session.manage.public_url is None:
            raise Conflict(NO_PUBLIC_URL)
        token, row = issue_connect_token(session, staff, now, days)
        url = connect_link(session.manage, token)
        assert url is not None  # the public URL is set
        emailed = send_connect_link(session, staff, url, row.expires_at, now=now)
        return reply({"url": url, "expires_at": utc_iso(row.expires_at),
                      "emailed": emailed}, created=True)

    return await transact(runtime, work)


async def consent(runtime: Runtime, request: Request) -> Response:
    """A link for the merchant's Microsoft 365 administrator to consent for the organisation."""
    (merchant_key,) = path_keys(request, "merchant")
    app = find_app(runtime.settings.connectors, _public_url(runtime),
                   runtime.settings.connect.m365_app)
    if app is None:
        raise Conflict(NO_M365_APP)
    try:
        seal = runtime.connectors.sealer()
    except ConfigError as error:
        raise Conflict("no encryption keys are configured: " + "; ".join(error.problems)) \
            from None

    def work(session: Session) -> Response:
        catalog.get_merchant(session, merchant_key)
        url, expires = consent_link(app, seal, merchant_key, utcnow())
        return reply({"url": url, "expires_at": utc_iso(expires)}, created=True)

    return await transact(runtime, work)


def _public_url(runtime: Runtime) -> str | None:
    public = runtime.settings.manage.public_url
    return None if public is None else str(public)


async def revoke(runtime: Runtime, request: Request) -> Response:
    merchant_key, key = path_keys(request, "merchant", "staff")

    def work(session: Session) -> Response:
        staff = _staff(session, merchant_key, key)
        return reply({"revoked": revoke_connect_tokens(session, staff, utcnow())})

    return await transact(runtime, work)


_LINKS = "/merchants/{merchant}/staff/{staff}/connect-links"


_CONSENT = "/merchants/{merchant}/m365-consent-links"


def routes(runtime: Runtime) -> list[Route]:
    return [resource(runtime, _LINKS, post=issue_link, delete=revoke),
            resource(runtime, _CONSENT, post=consent)]


OPERATIONS = [
    Operation("post", _LINKS, "issueConnectLink",
              "A new connect link for the staff member, emailed to them when they have an "
              "address (409: manage.public_url is not set)",
              ConnectLinkOut, status=201, refusals=(409,),
              description="The link opens a page where the staff member connects their own "
                          "calendar (Microsoft 365 / Outlook, or any CalDAV server). It works "
                          "until `expires_at` ([connect] link_days after it was issued) or "
                          "until revoked; `emailed` says whether it was queued to the staff "
                          "member's email address."),
    Operation("delete", _LINKS, "revokeConnectLinks",
              "Revoke every connect link of the staff member", RevokedOut),
    Operation("post", _CONSENT, "issueM365ConsentLink",
              "A link for the merchant's Microsoft 365 administrator to consent for their "
              "organisation (409: no m365 app registration, public_url or encryption keys)",
              ConsentLinkOut, status=201, refusals=(409,),
              description="Microsoft's admin consent page; its answer comes back to "
                          "/connect/m365/consent, which records the organisation's tenant as "
                          "the merchant's account `m365-organisation`. Staff of that "
                          "organisation then choose their work mailbox on their connect page "
                          "instead of signing in. The link works for 24 hours."),
]

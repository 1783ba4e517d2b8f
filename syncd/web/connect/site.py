"""What every connect page handler is given: the manage pages' `Web`, and what is the
connect pages' own (the seal for drafts, their settings, how discovery reaches servers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from connectors.caldav.discovery import ClientOptions
from syncd.config.connect import ConnectSettings
from syncd.connect.caldav import PAGE_OPTIONS
from syncd.connect.drafts import Draft, Seal, open_draft
from syncd.connect.m365 import M365App
from syncd.connect.views import open_link
from syncd.store.connect_tokens import ConnectToken
from syncd.store.session import SyncdSession
from syncd.web.context import Web, token_of
from syncd.web.csrf import FIELD
from syncd.web.errors import CsrfError
from syncd.web.forms import read_form

T = TypeVar("T")


@dataclass
class ConnectSite:
    web: Web
    settings: ConnectSettings
    discovery: ClientOptions = PAGE_OPTIONS
    seal_override: Seal | None = None
    m365: M365App | None = None  # None: no Microsoft 365 app registration is configured

    @property
    def m365_offered(self) -> bool:
        return self.m365 is not None

    @property
    def seal(self) -> Seal:
        """The credentials' seal; `ConfigError` (the "not set up" page) without keys."""
        if self.seal_override is not None:
            return self.seal_override
        return self.web.runtime.connectors.sealer()

    def now(self) -> datetime:
        return self.web.clock()

    async def with_link(
        self, token: str, work: Callable[[SyncdSession, ConnectToken], T], *, lock: bool = False
    ) -> T:
        """`work` on the working link `token` opens, in one transaction; 404 otherwise."""
        now = self.now()
        return await self.web.transact(
            lambda session: work(session, open_link(session, token, now, lock=lock)))

    def draft_of(self, link: ConnectToken) -> Draft | None:
        return open_draft(link, self.seal, self.now(), self.settings.draft_minutes)

    async def checked_form(self, request: Request, token: str) -> dict[str, str]:
        form = await read_form(request)
        if not self.web.csrf.verify(request, token, form.get(FIELD)):
            raise CsrfError
        return form


ConnectHandler = Callable[[ConnectSite, Request], Awaitable[Response]]


class ConnectEndpoint:
    """A connect page handler bound to the site, as the ASGI app of its route."""

    def __init__(self, site: ConnectSite, handler: ConnectHandler) -> None:
        self.site, self.handler = site, handler
        self.__name__ = handler.__name__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(self.site, Request(scope, receive, send))
        await response(scope, receive, send)


def page_url(request: Request, token: str, page: str = "") -> str:
    base = request.scope.get("root_path", "")
    return f"{base}/{token}/{page}" if page else f"{base}/{token}"


def see_other(request: Request, token: str, page: str = "", query: str = "") -> Response:
    url = page_url(request, token, page) + (f"?{query}" if query else "")
    return RedirectResponse(url, status_code=303)


__all__ = ["ConnectSite", "page_url", "see_other", "token_of"]

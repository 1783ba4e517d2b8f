"""What frames every manage response, as one middleware around the pages' routes.

For each request, in order:
- a Host value not trusted gets a 400 (syncd.web.hosts: here rather than as a
  layer of its own, which cost every request a call and a coroutine of its own);
- a client over its failure limit is still served what works (customers
  behind one office address share it), but each further failure becomes the
  429 page (syncd.web.limits);
- what the pages and the router raise (no such page, wrong method) becomes
  its error page (syncd.web.errors); anything else is logged without its
  message and becomes the 500 page, unless the response had already started;
- the response gets the security headers (syncd.web.headers), and a 400, 403,
  404 or 405 counts as a failure of the client.

One layer rather than one per concern: every customer's page passes through
it, and each layer costs each request its own call and its own wrapper of
`send`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.logs import redacted_traceback
from syncd.store.outage import Outage, outage_of
from syncd.web.errors import ErrorPage, PageErrorHandler, redacted_path
from syncd.web.headers import with_security_headers
from syncd.web.hosts import TrustedHosts
from syncd.web.limits import FAILURE_STATUSES, FailureLimiter, TooMany, client_address

logger = logging.getLogger("syncd.web")
UNEXPECTED_TEXT = "Something went wrong on our side. Nothing was changed by this error."
OUTAGE_TEXT = (
    "We cannot reach our booking records just now. Nothing was changed. "
    "Please try again in a few minutes."
)


class PageFrame:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: FailureLimiter,
        too_many: TooMany,
        handlers: Mapping[type[Exception], PageErrorHandler],
        error_page: ErrorPage,
        allowed_hosts: Sequence[str],
    ) -> None:
        self.app = app
        self.hosts = TrustedHosts(app, allowed_hosts)  # `app` behind the Host check
        self.limiter = limiter
        self.too_many = too_many
        self.handlers = dict(handlers)
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.hosts(scope, receive, send)
            return
        app = self.app if self.hosts.known(scope) else self.hosts
        client = client_address(scope)
        started = False

        async def framed_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = with_security_headers(message.get("headers", []))
                if message["status"] in FAILURE_STATUSES:
                    self.limiter.record_failure(client)
            await send(message)

        wait = self.limiter.retry_after(client)
        if wait is None:
            try:
                await app(scope, receive, framed_send)
            except Exception as error:
                await self._failed(error, started, scope, receive, framed_send)
            return
        limited = _FailuresWithheld(framed_send, self.limiter, client)
        try:
            await app(scope, receive, limited.send)
        except Exception as error:
            await self._failed(error, limited.started, scope, receive, limited.send)
        if limited.withheld:
            await self.too_many(scope, wait)(scope, receive, framed_send)

    async def _failed(
        self, error: Exception, started: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """`error` escaped the pages: its error page, unless the response had `started`."""
        handler, outage = self._handler_of(error), outage_of(error)
        if (handler is None and outage is None) or started:
            logger.error("unexpected error on %s %s: %s", scope["method"],
                         redacted_path(scope), redacted_traceback(error))
        if started:
            return
        if handler is not None:
            page = handler(Request(scope), error)
        else:
            page = self._unexpected(Request(scope), outage)
        await page(scope, receive, send)

    def _unexpected(self, request: Request, outage: Outage | None) -> Response:
        if outage is None:
            return self.error_page(request, 500, "Sorry", UNEXPECTED_TEXT)
        logger.warning("%s on %s %s", outage.value, request.method, redacted_path(request.scope))
        outage.record()
        page = self.error_page(request, 503, "Please try again in a moment", OUTAGE_TEXT)
        page.headers["Retry-After"] = str(outage.retry_after_seconds)
        return page

    def _handler_of(self, error: Exception) -> PageErrorHandler | None:
        return next((self.handlers[kind] for kind in type(error).__mro__
                     if kind in self.handlers), None)


class _FailuresWithheld:
    """The `send` of a client over its limit: a failure is counted and withheld (the frame
    answers 429 instead); anything else goes out as usual."""

    def __init__(self, send: Send, limiter: FailureLimiter, client: str) -> None:
        self.inner, self.limiter, self.client = send, limiter, client
        self.started = self.withheld = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in FAILURE_STATUSES:
            self.withheld = True
            self.limiter.record_failure(self.client)
        if self.withheld:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self.inner(message)

"""The manage pages answer only for trusted Host values, remembering the values let through.

The check is Starlette's TrustedHostMiddleware (other Host headers get a 400,
so nothing built from one can point elsewhere). It parses the header with a
regular expression and matches the host against each allowed pattern, on every
request; yet whether a Host value passes depends on that value alone, and
browsers send the same few. So the values it let through are remembered, a
bounded number of them (under a wildcard pattern there can be any number), and
only a value not seen yet is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_REMEMBERED_HOSTS = 64


class TrustedHosts:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(self._let_through, allowed_hosts=allowed_hosts,
                                           www_redirect=False)
        self.passed: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.known(scope):
            await self.app(scope, receive, send)
        else:
            await self.check(scope, receive, send)

    def known(self, scope: Scope) -> bool:
        """An HTTP request whose Host value was let through before: it needs no check."""
        return scope["type"] == "http" and host_header(scope) in self.passed

    async def _let_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = host_header(scope)
        if host is not None and len(self.passed) < MAX_REMEMBERED_HOSTS:
            self.passed.add(host)
        await self.app(scope, receive, send)


def host_header(scope: Scope) -> bytes | None:
    """The first Host header's raw value, the one Starlette's check reads."""
    for name, value in scope["headers"]:
        if name == b"host":
            return bytes(value)
    return None

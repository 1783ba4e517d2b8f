"""Bearer-key authentication for every API request, checked before routing.

Running before the router means an unauthenticated caller learns nothing,
not even which paths exist.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from syncd.api.errors import error_response

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class BearerAuth:
    """Let a request through only if it carries `Authorization: Bearer <key>`."""

    def __init__(self, app: ASGIApp, key: str | None, key_source: str) -> None:
        self.app = app
        self.key = key.encode() if key else None
        self.key_source = key_source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        if self.key is None:
            message = f"the API key is not configured ({self.key_source}); every request is refused"
            return error_response(503, "api_key_not_configured", message)
        given = bearer_token(Headers(scope=scope).get("authorization", ""))
        if given is None or not hmac.compare_digest(given.encode(), self.key):
            message = "a valid 'Authorization: Bearer <key>' header is required"
            return error_response(401, "unauthorized", message, headers=_CHALLENGE)
        return None


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

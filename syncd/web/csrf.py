"""Cross-site request forgery protection for the manage forms.

Each browser gets a random id in a cookie (SameSite=Strict, HttpOnly, Secure
when customers reach syncd over https). A form carries
HMAC(key, browser id, manage token) as a hidden field; a POST is accepted only
when the field matches the cookie it arrives with, compared in constant time.
Another site can neither read the cookie nor make the browser send it, and a
token computed for one booking's link is worthless for another's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

FIELD = "csrf"
_ID_BYTES = 32
_MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class CsrfGuard:
    key: bytes
    secure: bool

    @property
    def cookie_name(self) -> str:
        # __Host- cookies must be Secure with Path=/ and no Domain: no subdomain can set one
        return "__Host-syncd_manage" if self.secure else "syncd_manage"

    def browser_id(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie_name)
        if value is None or not 0 < len(value) <= _MAX_ID_LENGTH:
            return None
        return value

    def form_token(self, browser_id: str, manage_token: str) -> str:
        message = f"csrf\0{browser_id}\0{manage_token}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def verify(self, request: Request, manage_token: str, given: str | None) -> bool:
        browser_id = self.browser_id(request)
        if browser_id is None or given is None:
            return False
        expected = self.form_token(browser_id, manage_token)
        return hmac.compare_digest(expected.encode(), given.encode())

    def issue(self, request: Request) -> tuple[str, bool]:
        """The browser's id, and whether it is new (so the cookie must be set)."""
        known = self.browser_id(request)
        if known is not None:
            return known, False
        return secrets.token_urlsafe(_ID_BYTES), True

    def set_cookie(self, response: Response, browser_id: str) -> None:
        response.set_cookie(
            self.cookie_name,
            browser_id,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

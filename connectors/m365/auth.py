"""App-only tokens for Graph: MSAL's client-credentials flow, off the event loop.

MSAL is synchronous, so every call runs in a thread, one at a time per
connector (an asyncio lock): forty mailboxes asking at once cost one token
request. The token in hand is reused until shortly before it expires, then MSAL
is asked again (it refreshes when its cached token has less than five minutes
left). A token Graph refuses with 401 (expired early, revoked) is dropped from
both caches so that the next request gets a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import msal

from connectors.errors import (
    AuthError,
    FailureScope,
    PermanentError,
    RemoteError,
    TransientError,
)
from connectors.transport import certificate_refused

# OAuth errors a retry may cure; every other refusal is about the credentials.
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_EARLY_REFRESH_SECONDS = 300.0


class TokenSource:
    """Access tokens of one app registration for one Graph instance."""

    def __init__(self, make_app: Callable[[], Any], scope: str, http_client: httpx.Client) -> None:
        self._make_app = make_app
        self._http_client = http_client  # MSAL's; closed with the source
        self._scopes = [scope]
        self._app: Any = None
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.acquired = 0  # tokens fetched from MSAL (its cache or the authority)

    async def token(self) -> str:
        """A token valid for a while yet; `AuthError` if the credentials are refused."""
        token = self._token
        if token is not None and time.monotonic() < self._refresh_at:
            return token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                await asyncio.to_thread(self._acquire)
            assert self._token is not None
            return self._token

    async def reject(self, token: str) -> None:
        """Graph refused `token`: forget it, unless a newer one replaced it already."""
        async with self._lock:
            if self._token == token:
                self._token = None
                await asyncio.to_thread(self._forget_in_msal, token)

    def close(self) -> None:
        self._http_client.close()

    def _acquire(self) -> None:
        try:
            self._acquire_token()
        finally:
            self._acquired()

    def _acquire_token(self) -> None:
        started = time.monotonic()
        try:
            if self._app is None:
                self._app = self._make_app()
            result = self._request(self._app)
        except httpx.HTTPError as exc:
            if certificate_refused(exc):
                raise PermanentError("authority's certificate not trusted") from exc
            raise TransientError(
                f"token request failed: {type(exc).__name__}", scope=FailureScope.CALENDAR
            ) from exc
        except ValueError as exc:  # MSAL: the authority's metadata is missing or invalid
            raise AuthError(f"authority refused: {exc}") from exc
        self._accept(result, started)

    def _request(self, app: Any) -> dict[str, Any]:
        """MSAL's answer for a token (in MSAL's thread)."""
        result: dict[str, Any] = app.acquire_token_for_client(scopes=self._scopes)
        return result

    def _acquired(self) -> None:
        """After each token request, in MSAL's thread (a delegated source persists here)."""

    def _refused(self, result: dict[str, Any]) -> RemoteError:
        return _token_error(result)

    def _accept(self, result: dict[str, Any], started: float) -> None:
        if "access_token" not in result:
            raise self._refused(result)
        lifetime = float(result.get("expires_in", 0))
        margin = min(_EARLY_REFRESH_SECONDS, lifetime / 2)
        self._token = str(result["access_token"])
        self._refresh_at = started + lifetime - margin
        self.acquired += 1

    def _forget_in_msal(self, token: str) -> None:
        if self._app is None:
            return
        cache = self._app.token_cache
        kind = msal.TokenCache.CredentialType.ACCESS_TOKEN
        for entry in [e for e in cache.search(kind) if e.get("secret") == token]:
            cache.remove_at(entry)


def oauth_detail(result: dict[str, Any]) -> str:
    """An OAuth error as `error (AADSTS<code>)`: no description (it may name the user)."""
    error = str(result.get("error", "unknown_error"))[:64]
    codes = result.get("error_codes")
    code = codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], int) else None
    return f"{error} (AADSTS{code})" if code is not None else error


def transient_oauth_error(result: dict[str, Any]) -> bool:
    return result.get("error") in _TRANSIENT_OAUTH_ERRORS


def _token_error(result: dict[str, Any]) -> AuthError | TransientError:
    detail = oauth_detail(result)
    if transient_oauth_error(result):
        return TransientError(f"token request failed: {detail}", scope=FailureScope.CALENDAR)
    return AuthError(f"token request refused: {detail}")


def msal_app_factory(
    client_id: str,
    credential: str | dict[str, str],
    authority: str,
    http_client: httpx.Client,
    token_cache: msal.TokenCache | None = None,
) -> Callable[[], Any]:
    """Builds the MSAL app when first needed (it fetches the authority's metadata then)."""

    def make() -> Any:
        # instance_discovery=False: the authority is used as configured, which
        # sovereign clouds and a local test authority need; MSAL still reads
        # its OpenID metadata before the first token.
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=credential,
            authority=authority,
            instance_discovery=False,
            http_client=http_client,
            token_cache=token_cache,
        )

    return make

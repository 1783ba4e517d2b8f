"""Delegated tokens for Graph: one user's sign-in, refreshed by MSAL from their token cache.

The token cache (MSAL's serialized `SerializableTokenCache`: the user's account,
refresh token and access tokens) is the account's credential: read once when the
connector is built, and handed back to `credential.write` whenever MSAL changed
it (a refresh rotates the refresh token). MSAL runs in a thread as for app-only
tokens, one request at a time per connector, and the write happens in that thread
right after it (syncd's write blocks on its database). A refresh token Entra
refuses (expired after inactivity, revoked, consent withdrawn: `invalid_grant`,
or `interaction_required`) is an `AuthError` asking for a new sign-in; nothing
else can cure it. The decision rests on the OAuth error, never on AADSTS numbers
(Microsoft: "apps that are dependent on text or error code numbers will be
broken over time"); the number is only reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import msal

from connectors.errors import AuthError, FailureScope, RemoteError, TransientError
from connectors.m365.auth import TokenSource, oauth_detail, transient_oauth_error
from connectors.m365.credential import Credential

log = logging.getLogger("syncd.connectors.m365")
#: What a delegated account is signed in for (MSAL adds openid, profile, offline_access).
DELEGATED_SCOPES = ("Calendars.ReadWrite",)
SIGN_IN_AGAIN = "sign in to Microsoft 365 again"


def load_cache(credential: Credential) -> msal.SerializableTokenCache | None:
    """The account's token cache, or None when none is stored or it cannot be read."""
    stored = credential.read()
    try:
        state = json.loads(stored) if stored else None
    except ValueError:
        return None
    if not _cache_shaped(state):
        return None
    cache = msal.SerializableTokenCache()
    cache.deserialize(stored)
    return cache


def _cache_shaped(state: object) -> bool:
    """MSAL's layout: credential type -> key -> entry (MSAL trusts it blindly)."""
    if not isinstance(state, dict) or not state:
        return False
    return all(
        isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
        for entries in state.values()
    )


class DelegatedTokenSource(TokenSource):
    """Access tokens of one signed-in user, with the connector interface of `TokenSource`."""

    def __init__(
        self,
        make_app: Callable[[], Any],
        cache: msal.SerializableTokenCache | None,
        credential: Credential,
        user: str,
        http_client: httpx.Client,
    ) -> None:
        super().__init__(make_app, DELEGATED_SCOPES[0], http_client)
        self._cache = cache
        self._credential = credential
        self._user = user

    def _request(self, app: Any) -> dict[str, Any]:
        if self._cache is None:
            raise AuthError(f"no usable Microsoft 365 sign-in is stored: {SIGN_IN_AGAIN}")
        account = self._account(app)
        result = app.acquire_token_silent_with_error(list(DELEGATED_SCOPES), account=account)
        if result is None:  # no refresh token for these scopes in the cache
            raise AuthError(f"the stored sign-in holds no refresh token: {SIGN_IN_AGAIN}")
        answer: dict[str, Any] = result
        return answer

    def _account(self, app: Any) -> dict[str, Any]:
        accounts: list[dict[str, Any]] = app.get_accounts(username=self._user) or (
            app.get_accounts()
        )
        if len(accounts) != 1:
            raise AuthError(f"the stored sign-in names no single account: {SIGN_IN_AGAIN}")
        return accounts[0]

    def _acquired(self) -> None:
        cache = self._cache
        if cache is None or not cache.has_state_changed:
            return
        changed = cache.serialize()  # clears has_state_changed
        try:
            self._credential.write(changed)
        except Exception as error:
            # The token in hand is good, and Entra keeps honouring the refresh token the
            # store still holds: the writes need not fail. The change is offered again
            # with the next token.
            cache.has_state_changed = True
            log.warning(
                "the refreshed Microsoft 365 sign-in could not be stored (%s); "
                "it is offered again with the next token",
                type(error).__name__,
            )

    def _refused(self, result: dict[str, Any]) -> RemoteError:
        detail = oauth_detail(result)
        if transient_oauth_error(result):
            return TransientError(f"token refresh failed: {detail}", scope=FailureScope.CALENDAR)
        return AuthError(f"Microsoft refused the stored sign-in, {detail}: {SIGN_IN_AGAIN}")

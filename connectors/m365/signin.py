"""Connecting Microsoft 365 accounts: admin consent for an organisation, sign-in for a user.

Plain functions for the connect page (it owns the web framework, the redirect URI
and where a pending sign-in is kept between the redirect and the callback):

- `admin_consent_url` / `parse_admin_consent_reply`: Microsoft's admin consent
  endpoint (v2-admin-consent: /{tenant}/v2.0/adminconsent with client_id,
  redirect_uri, state and scope, `/.default` for application permissions); the
  reply carries `tenant`, `admin_consent=True` and `state`, or `error` and
  `error_description`. The tenant becomes the account's `tenant_id`.
- `start_delegated_sign_in` / `finish_delegated_sign_in`: MSAL's authorization
  code flow with PKCE for Calendars.ReadWrite (MSAL adds openid, profile and
  offline_access). The flow is a JSON-serialisable dict holding the PKCE
  verifier, nonce and state: the caller keeps it sealed until the callback.
  The result's token cache is the account's credential.

Every failure is a `SignInError` whose message says what a person can do; its
`reason` lets a page choose its own words. Nothing from the reply other than
the OAuth error name and AADSTS number is repeated (the rest is the browser's
to say, and may be anyone's text).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

import httpx
import msal

from connectors.errors import UserError
from connectors.m365.auth import msal_app_factory
from connectors.m365.delegated import DELEGATED_SCOPES
from connectors.m365.http import new_token_client
from connectors.m365.settings import Settings, read_credential
from connectors.transport import certificate_refused, tls_verification

Reason = Literal["declined", "mismatch", "expired", "refused", "unavailable"]
_DECLINED = frozenset({"access_denied", "consent_required", "permission_denied"})
_UNAVAILABLE = frozenset({"temporarily_unavailable", "server_error"})
_ERROR_NAME = re.compile(r"^[a-z_]{1,64}$")
_AADSTS = re.compile(r"AADSTS(\d{1,9})")
_MAX_CODE = 16384  # Entra's codes run to a few kilobytes


class SignInError(UserError):
    """A consent or sign-in that did not connect the account; `str()` is for the person."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DelegatedSignIn(NamedTuple):
    """A finished delegated sign-in: what the account stores."""

    token_cache: str  # MSAL's serialized token cache: the account's credential (secret)
    user: str  # the signed-in user's principal name (settings `user`)
    tenant_id: str  # the user's tenant (settings `tenant_id`; refreshes go there)


def admin_consent_url(
    settings: Settings, redirect_uri: str, state: str, *, tenant: str = "organizations"
) -> str:
    """Where to send an organisation's administrator to consent for their tenant.

    `tenant`: "organizations" lets any organisation's admin consent (their tenant is
    reported back); a tenant id or domain asks that one. Not "common": personal
    accounts cannot consent for a tenant.
    """
    query = {
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": settings.token_scope,
    }
    return f"{settings.authority_host}/{tenant}/v2.0/adminconsent?{urlencode(query)}"


def parse_admin_consent_reply(query: Mapping[str, str], expected_state: str) -> str:
    """The tenant id an administrator consented for; `SignInError` otherwise."""
    _check_state(query, expected_state)
    _raise_reported_error(query)
    if str(query.get("admin_consent", "")).lower() != "true":
        raise SignInError(
            "refused", "Microsoft did not confirm the consent: ask an administrator to try again."
        )
    try:
        return str(uuid.UUID(str(query.get("tenant", ""))))
    except ValueError:
        raise SignInError(
            "refused",
            "Microsoft's answer names no organisation: ask an administrator to try again.",
        ) from None


async def start_delegated_sign_in(
    settings: Settings,
    redirect_uri: str,
    *,
    login_hint: str | None = None,
    response_mode: Literal["form_post", "query"] = "form_post",
) -> tuple[str, dict[str, Any]]:
    """The URL to send the user to, and the flow to keep (sealed) until the callback.

    `response_mode` "form_post" (MSAL's recommendation) has Microsoft POST the reply's
    fields to `redirect_uri`, so the code never appears in a URL (nor in access logs).
    """

    def initiate(app: Any) -> dict[str, Any]:
        flow: dict[str, Any] = app.initiate_auth_code_flow(
            list(DELEGATED_SCOPES),
            redirect_uri=redirect_uri,
            prompt="select_account",
            login_hint=login_hint,
            response_mode=response_mode,
        )
        return flow

    flow = await asyncio.to_thread(_with_sign_in_app, settings, initiate)
    return str(flow["auth_uri"]), flow


async def finish_delegated_sign_in(
    settings: Settings, flow: Mapping[str, Any], query: Mapping[str, str]
) -> DelegatedSignIn:
    """Redeem the reply (`query`: the callback's query or form fields) for the account."""
    reply = {k: v for k, v in query.items() if isinstance(k, str) and isinstance(v, str)}
    _check_state(reply, str(flow.get("state", "")))
    _raise_reported_error(reply)
    if not 0 < len(reply.get("code", "")) <= _MAX_CODE:
        raise SignInError("refused", "Microsoft's answer carries no sign-in: start again.")
    cache = msal.SerializableTokenCache()

    def redeem(app: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = app.acquire_token_by_auth_code_flow(dict(flow), reply)
        except (ValueError, KeyError, RuntimeError):
            # MSAL found the reply or the id_token not to match the flow (state, nonce);
            # its messages quote both values, which stay out of ours.
            raise _mismatch() from None
        return result

    result = await asyncio.to_thread(_with_sign_in_app, settings, redeem, cache)
    if "access_token" not in result:
        raise _token_refused(result)
    return _signed_in(result, cache)


def _with_sign_in_app(
    settings: Settings, use: Any, cache: msal.TokenCache | None = None
) -> dict[str, Any]:
    """`use(app)` with an MSAL app at the sign-in authority; network failures as SignInError."""
    client = new_token_client(settings, tls_verification(settings.ca_file))
    try:
        make = msal_app_factory(
            settings.client_id, read_credential(settings), settings.sign_in_authority, client, cache
        )
        result: dict[str, Any] = use(make())
        return result
    except httpx.HTTPError as exc:
        if certificate_refused(exc):
            raise SignInError(
                "unavailable", "Microsoft's sign-in service is not trusted (TLS certificate)."
            ) from exc
        raise _unavailable() from exc
    except ValueError as exc:  # MSAL: the authority's metadata is missing or invalid
        raise SignInError(
            "unavailable", "Microsoft's sign-in service did not answer as expected: try later."
        ) from exc
    finally:
        client.close()


def _signed_in(result: dict[str, Any], cache: msal.SerializableTokenCache) -> DelegatedSignIn:
    granted = str(result.get("scope", "")).split()
    if not any(s.rsplit("/", 1)[-1].lower() == "calendars.readwrite" for s in granted):
        raise SignInError(
            "refused",
            "The sign-in did not allow syncd to write to the calendar: sign in again and "
            "accept the calendar permission.",
        )
    claims = result.get("id_token_claims") or {}
    user, tenant = claims.get("preferred_username"), claims.get("tid")
    if not isinstance(user, str) or not user or not isinstance(tenant, str) or not tenant:
        raise SignInError("refused", "Microsoft did not say who signed in: sign in again.")
    return DelegatedSignIn(cache.serialize(), user, tenant)


def _check_state(query: Mapping[str, str], expected: str) -> None:
    state = query.get("state")
    if not expected or not isinstance(state, str):
        raise _mismatch()
    if not hmac.compare_digest(state.encode(), expected.encode()):
        raise _mismatch()


def _raise_reported_error(query: Mapping[str, str]) -> None:
    error = query.get("error")
    if not error:
        return
    name = error if _ERROR_NAME.match(error) else "error"
    found = _AADSTS.search(str(query.get("error_description", ""))[:2000])
    detail = f"{name} (AADSTS{found[1]})" if found else name
    if name in _DECLINED:
        raise SignInError(
            "declined",
            f"The permission was not granted ({detail}): start again and accept, or ask "
            "your organisation's administrator.",
        )
    if name in _UNAVAILABLE:
        raise _unavailable()
    raise SignInError("refused", f"Microsoft refused the sign-in ({detail}): start again.")


def _token_refused(result: dict[str, Any]) -> SignInError:
    if result.get("error") in _UNAVAILABLE:
        return _unavailable()
    codes = result.get("error_codes")
    code = codes[0] if isinstance(codes, list) and codes else None
    detail = f"{result.get('error')} (AADSTS{code})" if code else str(result.get("error"))
    if result.get("error") == "invalid_grant":
        return SignInError(
            "expired", f"This sign-in expired or was used already ({detail}): start again."
        )
    return SignInError("refused", f"Microsoft refused the sign-in ({detail}): start again.")


def _mismatch() -> SignInError:
    return SignInError(
        "mismatch",
        "This answer does not belong to the sign-in in progress (another tab, or an old "
        "link): start again.",
    )


def _unavailable() -> SignInError:
    return SignInError(
        "unavailable", "Microsoft's sign-in service could not be reached: try again in a minute."
    )

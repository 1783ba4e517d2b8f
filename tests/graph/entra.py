"""The double's delegated Entra ID: users, who signs in, codes, refresh tokens, consent.

What the Microsoft identity platform documents and the double follows
(learn.microsoft.com/entra/identity-platform/): v2-oauth2-auth-code-flow (authorize
parameters, PKCE with S256 or plain, codes redeemed once and short-lived, the token
response with refresh_token for offline_access and id_token for openid), refresh-tokens
(each use answers a new refresh token; inactivity expiry and revocation are
invalid_grant), v2-admin-consent and v2-oauth2-client-creds-grant-flow (the admin consent
redirects), reference-error-codes (AADSTS codes). A browser cannot be driven here, so a
test hook (`Browser`) says who is signed in at the authorize endpoint and whether they
consent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from tests.graph.errors import AadError

CODE_LIFETIME_SECONDS = 600  # "Authorization codes are short lived ... about 10 minutes"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
GRAPH_PREFIX = "https://graph.microsoft.com/"
DELEGATED_SCOPES = frozenset(
    {"Calendars.Read", "Calendars.ReadWrite", "User.Read", "Mail.Send", "MailboxSettings.Read"}
)
TENANT_ALIASES = frozenset({"common", "organizations"})


@dataclass(frozen=True)
class User:
    oid: str  # also the id of the user's mailbox in the store
    upn: str
    tenant: str
    admin: bool = False


@dataclass
class Browser:
    """Who is signed in where the authorize endpoint runs, and whether they consent."""

    user: User | None = None
    consents: bool = True


@dataclass
class Grant:
    """One user's delegated sign-in to one app: what its refresh tokens stand for."""

    user: User
    client_id: str
    scopes: frozenset[str]
    revoked: bool = False
    expired: bool = False


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    method: str
    nonce: str | None
    requested: frozenset[str]
    issued: float = field(default_factory=time.time)
    redeemed: bool = False


def graph_scopes(scope: str) -> frozenset[str]:
    """The Graph permissions a scope parameter names, or AADSTS70011 for unknown ones."""
    found = set()
    for item in scope.split():
        if item in OIDC_SCOPES:
            continue
        name = item.removeprefix(GRAPH_PREFIX)
        if name == ".default":
            found |= DELEGATED_SCOPES
        elif name in DELEGATED_SCOPES:
            found.add(name)
        else:
            raise AadError(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' isn't valid. "
                f"The scope '{item}' isn't valid.",
            )
    return frozenset(found)


def pkce_matches(code: Code, verifier: str | None) -> bool:
    if code.challenge is None:
        return True
    if not verifier:
        return False
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.challenge)


@dataclass
class Delegation:
    """Users, consents, codes and refresh tokens of every tenant the double knows."""

    browser: Browser = field(default_factory=Browser)
    users: dict[str, User] = field(default_factory=dict)  # by upn, lower-cased
    user_consents: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    admin_consents: set[tuple[str, str]] = field(default_factory=set)  # (tenant, client_id)
    codes: dict[str, Code] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)

    def add_user(self, user: User) -> User:
        self.users[user.upn.lower()] = user
        return user

    def user_by_oid(self, oid: str) -> User | None:
        return next((u for u in list(self.users.values()) if u.oid == oid), None)

    def consented(self, user: User, client_id: str, wanted: frozenset[str]) -> bool:
        if (user.tenant, client_id) in self.admin_consents:
            return True
        return wanted <= self.user_consents.get((user.oid, client_id), set())

    def record_consent(self, user: User, client_id: str, scopes: frozenset[str]) -> None:
        self.user_consents.setdefault((user.oid, client_id), set()).update(scopes)

    def withdraw_consent(self, user: User, client_id: str) -> None:
        self.user_consents.pop((user.oid, client_id), None)

    def new_code(self, code: Code) -> str:
        value = secrets.token_urlsafe(48)
        self.codes[value] = code
        return value

    def new_refresh_token(self, grant: Grant) -> str:
        value = secrets.token_urlsafe(64)
        self.refresh_tokens[value] = grant
        return value

    def grants_of(self, user: User) -> list[Grant]:
        return [g for g in self.refresh_tokens.values() if g.user == user]

    def redeem(self, value: str, client_id: str, redirect_uri: str, verifier: str | None) -> Code:
        """The code's grant, once: AADSTS errors as Entra answers a bad redemption."""
        code = self.codes.get(value)
        if code is None:
            raise invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
        if code.redeemed:
            raise invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new "
                "valid code or use an existing refresh token.",
            )
        if time.time() - code.issued > CODE_LIFETIME_SECONDS:
            raise invalid_grant(
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user "
                "and resource.",
            )
        if code.grant.client_id != client_id or code.redirect_uri != redirect_uri:
            raise invalid_grant(
                70000,
                "The provided value for the 'code' parameter is not valid. The code was "
                "issued to a different client or redirect URI.",
            )
        if not pkce_matches(code, verifier):
            raise invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
        code.redeemed = True
        return code

    def refresh(self, value: str, client_id: str) -> Grant:
        """The grant a refresh token stands for, or invalid_grant as documented."""
        grant = self.refresh_tokens.get(value)
        if grant is None:
            raise invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
        if grant.client_id != client_id:
            raise invalid_grant(70000, "The refresh token was issued to a different client.")
        if grant.revoked:
            raise invalid_grant(
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth "
                "token is needed. The user might have changed or reset their password.",
            )
        if grant.expired:
            raise invalid_grant(
                700082,
                "The refresh token has expired due to inactivity. The token was issued "
                "and was inactive for 90.00:00:00.",
            )
        if not self.consented(grant.user, client_id, grant.scopes):
            raise invalid_grant(
                65001,
                "The user or administrator has not consented to use the application "
                f"with ID '{client_id}'. Send an interactive authorization request for "
                "this user and resource.",
            )
        return grant


def invalid_grant(code: int, description: str) -> AadError:
    return AadError(400, "invalid_grant", code, description)


def client_info(user: User) -> str:
    """What MSAL reads as the home account: base64url JSON {uid, utid}."""
    payload = f'{{"uid":"{user.oid}","utid":"{user.tenant}"}}'.encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")

"""The browser side of Entra ID: the authorize and admin consent endpoints.

Both answer a redirect to the app's redirect_uri (which must match a registered one
exactly; otherwise Entra shows an error page and never redirects: here a 400 with the
AAD error body). The user at the browser and their answer come from `Delegation.browser`.

authorize (v2-oauth2-auth-code-flow): response_type=code only; response_mode query,
fragment or form_post (an HTML page that POSTs the answer, as Entra's does);
code_challenge_method S256 or plain (the documented default when a challenge comes
without a method); prompt=none never shows a page: login_required without a signed-in
user, consent_required without consent; a declined consent is access_denied
(AADSTS65004). Success: ?code=...&state=...

adminconsent, v1 (/{tenant}/adminconsent) and v2 (/{tenant}/v2.0/adminconsent, scope
required): tenant may be `organizations` (the admin's tenant is reported back). Success:
?admin_consent=True&tenant=...&state=... (v2 adds scope). A declined request: v1
?error=permission_denied&error_description=The admin canceled the request; v2
?error=consent_required&error_description=AADSTS65004: ... A signed-in user who is not
an administrator cannot consent for the tenant: AADSTS90094 (a page, not a redirect).
A signed-in user of another tenant than the one in the path gets AADSTS50020 (a page).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from tests.graph.auth import App, Directory
from tests.graph.entra import TENANT_ALIASES, Code, Grant, User, graph_scopes
from tests.graph.errors import AadError

PKCE_METHODS = frozenset({"S256", "plain"})
RESPONSE_MODES = frozenset({"query", "fragment", "form_post"})


@dataclass(frozen=True)
class Redirect:
    """An answer carried back to the app: where, what, and how (response_mode)."""

    redirect_uri: str
    params: dict[str, str]
    mode: str = "query"

    @property
    def location(self) -> str:
        """The 302's Location (response_mode query or fragment)."""
        separator = "#" if self.mode == "fragment" else "?"
        return f"{self.redirect_uri}{separator}{urlencode(self.params)}"

    def form_post(self) -> str:
        """response_mode=form_post: the page whose script POSTs the answer to redirect_uri."""
        fields = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}"/>'
            for k, v in self.params.items()
        )
        return (
            '<html><head><title>Working...</title></head><body onload="document.forms[0]'
            f'.submit()"><form method="POST" action="{escape(self.redirect_uri)}">{fields}'
            "</form></body></html>"
        )


def _registered(directory: Directory, query: dict[str, str]) -> tuple[App, str]:
    client_id = query.get("client_id", "")
    app = directory.apps.get(client_id)
    if app is None:
        raise AadError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory.",
        )
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        raise AadError(
            400,
            "invalid_request",
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match "
            f"the redirect URIs configured for the application '{client_id}'.",
        )
    return app, redirect_uri


def _error(redirect_uri: str, state: str | None, error: AadError, mode: str = "query") -> Redirect:
    params = {"error": error.body["error"], "error_description": error.body["error_description"]}
    if state is not None:
        params["state"] = state
    return Redirect(redirect_uri, params, mode)


def _signed_in(directory: Directory, prompt: str | None) -> User:
    user = directory.delegation.browser.user
    if user is None:
        raise AadError(
            400,
            "login_required" if prompt == "none" else "interaction_required",
            50058,
            "A silent sign-in request was sent but no user is signed in.",
        )
    return user


def _check_tenant(directory: Directory, tenant: str) -> None:
    """A user of another tenant cannot sign in here: Entra's sign-in page says so."""
    user = directory.delegation.browser.user
    if user is None or tenant.lower() in TENANT_ALIASES or tenant.lower() == user.tenant:
        return
    raise AadError(
        400,
        "invalid_request",
        50020,
        f"User account '{user.upn}' from identity provider does not exist in tenant "
        f"'{tenant}' and cannot access the application in that tenant.",
    )


def _challenge(query: dict[str, str]) -> tuple[str | None, str]:
    challenge = query.get("code_challenge") or None
    method = query.get("code_challenge_method") or "plain"
    if method not in PKCE_METHODS:
        raise AadError(
            400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid."
        )
    return challenge, method


def authorize(directory: Directory, tenant: str, query: dict[str, str]) -> Redirect:
    """Sign the browser's user in and redirect with a code, or with the documented error."""
    app, redirect_uri = _registered(directory, query)
    _check_tenant(directory, tenant)
    state, mode = query.get("state"), query.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        mode = "query"
    try:
        return Redirect(redirect_uri, _code_params(directory, app, tenant, query), mode)
    except AadError as error:
        return _error(redirect_uri, state, error, mode)


def _code_params(
    directory: Directory, app: App, tenant: str, query: dict[str, str]
) -> dict[str, str]:
    if query.get("response_type") != "code":
        raise AadError(
            400,
            "unsupported_response_type",
            700054,
            f"response_type '{query.get('response_type')}' is not enabled for the application.",
        )
    if (query.get("response_mode") or "query") not in RESPONSE_MODES:
        raise AadError(
            400,
            "invalid_request",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        )
    scope = query.get("scope")
    if not scope:
        raise AadError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    wanted = graph_scopes(scope)
    challenge, method = _challenge(query)
    prompt = query.get("prompt")
    user = _signed_in(directory, prompt)
    _consent(directory, user, app.client_id, wanted, prompt)
    grant = Grant(user, app.client_id, wanted)
    code = Code(
        grant,
        query["redirect_uri"],
        challenge,
        method,
        query.get("nonce"),
        frozenset(scope.split()),
    )
    with directory.lock:
        params = {"code": directory.delegation.new_code(code)}
    if query.get("state") is not None:
        params["state"] = query["state"]
    return params


def _consent(
    directory: Directory, user: User, client_id: str, wanted: frozenset[str], prompt: str | None
) -> None:
    delegation = directory.delegation
    if delegation.consented(user, client_id, wanted) and prompt != "consent":
        return
    if prompt == "none":
        raise AadError(
            400,
            "consent_required",
            65001,
            "The user or administrator has not consented to use the application with ID "
            f"'{client_id}'. Send an interactive authorization request for this user and "
            "resource.",
        )
    if not delegation.browser.consents:
        raise AadError(
            400,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        )
    with directory.lock:
        delegation.record_consent(user, client_id, wanted)


def admin_consent(
    directory: Directory, tenant: str, query: dict[str, str], *, v2: bool
) -> Redirect:
    """Record the admin's consent for their tenant and redirect, as documented."""
    app, redirect_uri = _registered(directory, query)
    state = query.get("state")
    if v2 and not query.get("scope"):
        return _error(
            redirect_uri,
            state,
            AadError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            ),
        )
    _check_tenant(directory, tenant)
    user = _signed_in(directory, None)
    if not user.admin:
        raise AadError(
            403,
            "access_denied",
            90094,
            f"The application '{app.client_id}' needs permission to access resources in "
            "your organization that only an admin can grant.",
        )
    if not directory.delegation.browser.consents:
        return Redirect(redirect_uri, _declined(state, v2))
    with directory.lock:
        directory.delegation.admin_consents.add((user.tenant, app.client_id))
    params = {"admin_consent": "True", "tenant": user.tenant}
    if v2:
        params["scope"] = query["scope"]
    if state is not None:
        params["state"] = state
    return Redirect(redirect_uri, params)


def _declined(state: str | None, v2: bool) -> dict[str, str]:
    if v2:
        params = {
            "error": "consent_required",
            "error_description": "AADSTS65004: The resource owner or authorization server "
            "denied the request.",
        }
    else:
        params = {
            "error": "permission_denied",
            "error_description": "The admin canceled the request",
        }
    if state is not None:
        params["state"] = state
    return params

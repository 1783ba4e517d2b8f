"""Admin consent at the double: a merchant's tenant connects the app, then its tokens work."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from tests.graph import GraphDouble
from tests.graph.conftest import graph_client
from tests.graph.signin_helpers import (
    CALENDARS,
    REDIRECT_URI,
    follow,
    msal_confidential,
    public_app,
    redirected_to,
    sign_in_with_msal,
)

SECRET = "merchant-app-secret"
DEFAULT_SCOPE = ["https://graph.microsoft.com/.default"]


@pytest.fixture
def merchant(double: GraphDouble) -> tuple[str, str]:
    """A merchant's tenant and its administrator, signed in at the browser."""
    tenant = double.add_tenant()
    admin = f"admin-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(admin, tenant, admin=True)
    double.sign_in(admin)
    return tenant, admin


@pytest.fixture
def client_id(double: GraphDouble) -> str:
    registered = str(uuid.uuid4())
    double.add_app(registered, secret=SECRET, redirect_uris=(REDIRECT_URI,))
    return registered


def consent_url(double: GraphDouble, tenant: str, client_id: str, *, v2: bool = True) -> str:
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "state": "connect-1"}
    if v2:
        params["scope"] = DEFAULT_SCOPE[0]
    path = "v2.0/adminconsent" if v2 else "adminconsent"
    return str(httpx.URL(f"{double.base_url}/{tenant}/{path}", params=params))


def app_token(double: GraphDouble, tenant: str, client_id: str) -> dict[str, object]:
    app = msal_confidential(double, client_id, SECRET, f"{double.base_url}/{tenant}")
    result: dict[str, object] = app.acquire_token_for_client(DEFAULT_SCOPE)
    return result


@pytest.mark.parametrize("v2", [True, False], ids=["v2", "v1"])
def test_admin_consent_connects_the_tenant_for_client_credentials(
    double: GraphDouble, merchant: tuple[str, str], client_id: str, v2: bool
) -> None:
    tenant, _ = merchant
    before = app_token(double, tenant, client_id)
    assert before["error"] == "unauthorized_client"
    assert before["error_codes"] == [7000229]
    target, query = redirected_to(
        follow(double, consent_url(double, "organizations", client_id, v2=v2))
    )
    assert target == REDIRECT_URI
    expected = {"admin_consent": "True", "tenant": tenant, "state": "connect-1"}
    if v2:
        expected["scope"] = DEFAULT_SCOPE[0]
    assert query == expected
    after = app_token(double, tenant, client_id)
    assert "access_token" in after, after
    claims = jwt.decode(str(after["access_token"]), options={"verify_signature": False})
    assert claims["tid"] == tenant
    assert claims["roles"] == ["Calendars.ReadWrite"]
    assert_reaches_its_tenant_only(double, str(after["access_token"]), tenant)


def assert_reaches_its_tenant_only(double: GraphDouble, token: str, tenant: str) -> None:
    own = f"staff-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(own, tenant)
    home = f"home-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_mailbox(home)
    with graph_client(double, token) as graph:
        assert graph.get(f"/users/{own}/calendar/events").status_code == 200
        response = graph.get(f"/users/{home}/calendar/events")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ErrorInvalidUser"


def test_the_home_tenant_needs_no_consent(double: GraphDouble, client_id: str) -> None:
    assert "access_token" in app_token(double, double.tenant_id, client_id)


@pytest.mark.parametrize(
    ("v2", "error", "description"),
    [
        (True, "consent_required", "AADSTS65004: "),
        (False, "permission_denied", "The admin canceled the request"),
    ],
    ids=["v2", "v1"],
)
def test_a_declined_admin_consent_redirects_with_the_documented_error(  # noqa: PLR0917
    double: GraphDouble,
    merchant: tuple[str, str],
    client_id: str,
    v2: bool,
    error: str,
    description: str,
) -> None:
    tenant, admin = merchant
    double.sign_in(admin, consents=False)
    _, query = redirected_to(follow(double, consent_url(double, tenant, client_id, v2=v2)))
    assert query["error"] == error
    assert query["error_description"].startswith(description)
    assert query["state"] == "connect-1"
    assert "admin_consent" not in query
    assert app_token(double, tenant, client_id)["error_codes"] == [7000229]


def test_only_an_administrator_consents_for_the_tenant(
    double: GraphDouble, merchant: tuple[str, str], client_id: str
) -> None:
    tenant, _ = merchant
    staff = f"staff-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(staff, tenant)
    double.sign_in(staff)
    response = follow(double, consent_url(double, tenant, client_id))
    assert response.status_code == 403  # a page, not a redirect
    assert response.json()["error_codes"] == [90094]


def test_admin_consent_checks_its_request(
    double: GraphDouble, merchant: tuple[str, str], client_id: str
) -> None:
    tenant, _ = merchant
    wrong_redirect = consent_url(double, tenant, client_id).replace("callback", "elsewhere")
    response = follow(double, wrong_redirect)
    assert response.status_code == 400
    assert response.json()["error_codes"] == [50011]
    no_scope = consent_url(double, tenant, client_id).replace("scope=", "ignored=")
    _, query = redirected_to(follow(double, no_scope))
    assert query["error"] == "invalid_request"
    assert query["error_description"].startswith("AADSTS900144: ")
    elsewhere = consent_url(double, double.tenant_id, client_id)
    response = follow(double, elsewhere)  # the admin is not of that tenant: a page
    assert response.status_code == 400
    assert response.json()["error_codes"] == [50020]


@pytest.mark.parametrize("authority", ["tenant", "organizations"])
def test_after_admin_consent_staff_sign_in_without_a_consent_prompt(
    double: GraphDouble, merchant: tuple[str, str], authority: str
) -> None:
    tenant, _ = merchant
    path = tenant if authority == "tenant" else authority
    client_id, app = public_app(double, f"{double.base_url}/{path}")
    redirected_to(follow(double, consent_url(double, tenant, client_id)))
    staff = f"staff-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(staff, tenant)
    double.sign_in(staff, consents=False)  # would decline a consent prompt: none comes
    result = sign_in_with_msal(double, app, CALENDARS)
    assert "access_token" in result, result
    assert result["id_token_claims"]["tid"] == tenant
    assert app.get_accounts()[0]["home_account_id"].endswith(f".{tenant}")
    with graph_client(double, result["access_token"]) as graph:
        assert graph.get("/me/calendar/events").status_code == 200

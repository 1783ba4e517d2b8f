"""Delegated sign-in at the double: MSAL's authorization code flow with PKCE, refresh, errors."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.graph import GraphDouble, entra
from tests.graph.conftest import graph_client
from tests.graph.signin_helpers import (
    CALENDARS,
    REDIRECT_URI,
    confidential_app,
    follow,
    public_app,
    redirected_to,
    sign_in_with_msal,
)


@pytest.fixture
def staff(double: GraphDouble) -> str:
    upn = f"staff-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_user(upn)
    double.sign_in(upn)
    return upn


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_url(double: GraphDouble, client_id: str, **params: str) -> str:
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid offline_access Calendars.ReadWrite",
        "state": "s-1",
        **params,
    }
    return str(httpx.URL(f"{double.authority}/oauth2/v2.0/authorize", params=query))


def code_for(double: GraphDouble, client_id: str, challenge: str, **params: str) -> str:
    url = authorize_url(
        double, client_id, code_challenge=challenge, code_challenge_method="S256", **params
    )
    _, query = redirected_to(follow(double, url))
    assert query["state"] == "s-1"
    return query["code"]


def redeem(double: GraphDouble, client_id: str, code: str, **form: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid offline_access Calendars.ReadWrite",
        **form,
    }
    return httpx.post(
        f"{double.authority}/oauth2/v2.0/token", data=data, verify=double.tls_verify()
    )


def aad_error(response: httpx.Response) -> tuple[str, list[int]]:
    body = response.json()
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    return body["error"], body["error_codes"]


def test_msal_public_client_signs_in_with_pkce_and_reads_its_own_calendar(
    double: GraphDouble, staff: str
) -> None:
    other = f"other-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_mailbox(other)
    _, app = public_app(double)
    result = sign_in_with_msal(double, app, CALENDARS)
    assert "access_token" in result, result
    assert result["refresh_token"]
    claims = result["id_token_claims"]
    assert claims["preferred_username"] == staff
    assert claims["tid"] == double.tenant_id
    assert [a["username"] for a in app.get_accounts()] == [staff]
    scp = jwt.decode(result["access_token"], options={"verify_signature": False})["scp"]
    assert scp.split() == ["Calendars.ReadWrite"]
    with graph_client(double, result["access_token"]) as graph:
        assert graph.get("/me/calendar/events").status_code == 200
        assert graph.get(f"/users/{staff}/events").status_code == 200
        response = graph.get(f"/users/{other}/calendar/events")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "ErrorAccessDenied"


def test_the_id_token_is_signed_with_the_published_key(double: GraphDouble, staff: str) -> None:
    _, app = public_app(double)
    result = sign_in_with_msal(double, app, CALENDARS)
    configuration = httpx.get(
        f"{double.authority}/v2.0/.well-known/openid-configuration", verify=double.tls_verify()
    ).json()
    keys = httpx.get(configuration["jwks_uri"], verify=double.tls_verify()).json()
    key = jwt.PyJWK(keys["keys"][0])
    claims = jwt.decode(
        result["id_token"],
        key.key,
        algorithms=["RS256"],
        audience=app.client_id,
        issuer=configuration["issuer"],
    )
    assert claims["preferred_username"] == staff
    assert claims["nonce"]  # MSAL checked it against the one it sent


def test_msal_refreshes_silently_and_the_refresh_token_rotates(
    double: GraphDouble, staff: str
) -> None:
    _, app = public_app(double)
    first = sign_in_with_msal(double, app, CALENDARS)
    account = app.get_accounts()[0]
    refreshed = app.acquire_token_silent_with_error(CALENDARS, account, force_refresh=True)
    assert refreshed is not None
    assert "access_token" in refreshed, refreshed
    assert refreshed["access_token"] != first["access_token"]
    cached = list(app.token_cache.search(app.token_cache.CredentialType.REFRESH_TOKEN))
    assert [rt["secret"] for rt in cached] == [refreshed["refresh_token"]]
    assert refreshed["refresh_token"] != first["refresh_token"]
    with graph_client(double, refreshed["access_token"]) as graph:
        assert graph.get("/me/calendar/events").status_code == 200


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (GraphDouble.revoke_sessions, 50173),
        (GraphDouble.expire_refresh_tokens, 700082),
    ],
    ids=["revoked", "expired"],
)
def test_a_revoked_or_expired_grant_is_invalid_grant_in_msal(
    double: GraphDouble, staff: str, spoil: Any, code: int
) -> None:
    _, app = public_app(double)
    sign_in_with_msal(double, app, CALENDARS)
    spoil(double, staff)
    result = app.acquire_token_silent_with_error(
        CALENDARS, app.get_accounts()[0], force_refresh=True
    )
    assert result is not None
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [code]


def test_withdrawn_consent_is_aadsts65001(double: GraphDouble, staff: str) -> None:
    client_id, app = public_app(double)
    sign_in_with_msal(double, app, CALENDARS)
    double.withdraw_consent(staff, client_id)
    result = app.acquire_token_silent_with_error(
        CALENDARS, app.get_accounts()[0], force_refresh=True
    )
    assert result is not None
    assert (result["error"], result["error_codes"]) == ("invalid_grant", [65001])


def test_a_confidential_client_redeems_with_its_secret(double: GraphDouble, staff: str) -> None:
    client_id, app = confidential_app(double, "web-secret")
    result = sign_in_with_msal(double, app, CALENDARS)
    assert "access_token" in result, result
    verifier, challenge = pkce_pair()
    code = code_for(double, client_id, challenge)
    response = redeem(double, client_id, code, code_verifier=verifier)
    assert response.status_code == 401
    assert aad_error(response) == ("invalid_client", [7000218])


def test_a_public_client_presenting_a_secret_is_refused(double: GraphDouble, staff: str) -> None:
    client_id, _ = public_app(double)
    verifier, challenge = pkce_pair()
    code = code_for(double, client_id, challenge)
    response = redeem(double, client_id, code, code_verifier=verifier, client_secret="x")
    assert aad_error(response) == ("invalid_client", [700025])


def test_a_code_is_single_use_and_bound_to_its_verifier_client_and_redirect(
    double: GraphDouble, staff: str
) -> None:
    client_id, _ = public_app(double)
    other_id, _ = public_app(double)
    verifier, challenge = pkce_pair()
    code = code_for(double, client_id, challenge)
    assert aad_error(redeem(double, client_id, code)) == ("invalid_grant", [501481])
    wrong = redeem(double, client_id, code, code_verifier=pkce_pair()[0])
    assert aad_error(wrong) == ("invalid_grant", [501481])
    elsewhere = redeem(
        double, client_id, code, code_verifier=verifier, redirect_uri="http://localhost/x"
    )
    assert aad_error(elsewhere) == ("invalid_grant", [70000])
    stolen = redeem(double, other_id, code, code_verifier=verifier)
    assert aad_error(stolen) == ("invalid_grant", [70000])
    first = redeem(double, client_id, code, code_verifier=verifier)
    assert first.status_code == 200, first.text
    body = first.json()
    assert {"access_token", "refresh_token", "id_token", "expires_in", "scope"} <= set(body)
    assert body["token_type"] == "Bearer"
    again = redeem(double, client_id, code, code_verifier=verifier)
    assert again.status_code == 400
    assert aad_error(again) == ("invalid_grant", [54005])
    bogus = redeem(double, client_id, "not-a-code", code_verifier=verifier)
    assert aad_error(bogus) == ("invalid_grant", [9002313])


def test_plain_pkce_and_no_offline_access(double: GraphDouble, staff: str) -> None:
    client_id, _ = public_app(double)
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(double, client_id, code_challenge=verifier, scope="openid User.Read")
    _, query = redirected_to(follow(double, url))
    response = redeem(double, client_id, query["code"], code_verifier=verifier)
    body = response.json()
    assert "access_token" in body, body
    assert "refresh_token" not in body  # offline_access was not asked for
    assert "client_info" not in body
    assert body["scope"].split() == ["User.Read", "openid"]


def test_response_mode_fragment_puts_the_code_in_the_fragment(
    double: GraphDouble, staff: str
) -> None:
    client_id, _ = public_app(double)
    url = authorize_url(double, client_id, response_mode="fragment", code_challenge="c" * 43)
    response = follow(double, url)
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{REDIRECT_URI}#code=")


def test_an_expired_code_is_refused(
    double: GraphDouble, staff: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, _ = public_app(double)
    verifier, challenge = pkce_pair()
    code = code_for(double, client_id, challenge)
    monkeypatch.setattr(entra, "CODE_LIFETIME_SECONDS", -1)
    assert aad_error(redeem(double, client_id, code, code_verifier=verifier)) == (
        "invalid_grant",
        [70008],
    )


def test_refresh_tokens_are_bound_to_the_client(double: GraphDouble, staff: str) -> None:
    client_id, _ = public_app(double)
    other_id, _ = public_app(double)
    verifier, challenge = pkce_pair()
    tokens = redeem(
        double, client_id, code_for(double, client_id, challenge), code_verifier=verifier
    )
    form = {"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]}
    endpoint = f"{double.authority}/oauth2/v2.0/token"
    response = httpx.post(
        endpoint, data={**form, "client_id": other_id}, verify=double.tls_verify()
    )
    assert aad_error(response) == ("invalid_grant", [70000])
    wider = httpx.post(
        endpoint,
        data={**form, "client_id": client_id, "scope": "Mail.Send offline_access"},
        verify=double.tls_verify(),
    )
    assert aad_error(wider) == ("invalid_grant", [65001])


def test_redirect_uri_must_be_registered_exactly(double: GraphDouble, staff: str) -> None:
    client_id, _ = public_app(double)
    response = follow(double, authorize_url(double, client_id, redirect_uri=REDIRECT_URI + "/"))
    assert response.status_code == 400  # an error page: Entra never redirects there
    assert aad_error(response) == ("invalid_request", [50011])
    unknown = follow(double, authorize_url(double, str(uuid.uuid4())))
    assert aad_error(unknown) == ("unauthorized_client", [700016])


@pytest.mark.parametrize(
    ("params", "consents", "error", "code"),
    [
        ({}, False, "access_denied", 65004),
        ({"prompt": "none"}, True, "consent_required", 65001),
        ({"scope": "openid Calendars.Everything"}, True, "invalid_scope", 70011),
        ({"response_type": "token"}, True, "unsupported_response_type", 700054),
        (
            {"code_challenge": "c", "code_challenge_method": "S512"},
            True,
            "invalid_request",
            9002313,
        ),
        ({"scope": ""}, True, "invalid_request", 900144),
    ],
    ids=["declined", "prompt-none", "unknown-scope", "implicit", "pkce-method", "no-scope"],
)
def test_authorize_errors_redirect_with_state(  # noqa: PLR0917 - parametrized
    double: GraphDouble,
    staff: str,
    params: dict[str, str],
    consents: bool,
    error: str,
    code: int,
) -> None:
    double.sign_in(staff, consents=consents)
    client_id, _ = public_app(double)
    target, query = redirected_to(follow(double, authorize_url(double, client_id, **params)))
    assert target == REDIRECT_URI
    assert query["error"] == error
    assert query["error_description"].startswith(f"AADSTS{code}: ")
    assert query["state"] == "s-1"
    assert "code" not in query


def test_prompt_none_without_a_signed_in_user_is_login_required(
    double: GraphDouble, staff: str
) -> None:
    double.sign_in(None)
    client_id, _ = public_app(double)
    _, query = redirected_to(follow(double, authorize_url(double, client_id, prompt="none")))
    assert query["error"] == "login_required"
    assert query["error_description"].startswith("AADSTS50058: ")


def test_consent_once_then_prompt_none_signs_in(double: GraphDouble, staff: str) -> None:
    client_id, _ = public_app(double)
    code_for(double, client_id, pkce_pair()[1])
    double.sign_in(staff, consents=False)  # no consent screen comes up again
    assert code_for(double, client_id, pkce_pair()[1], prompt="none")


def test_an_app_token_has_no_me(double: GraphDouble, graph: httpx.Client) -> None:
    response = graph.get("/me/calendar/events")
    assert response.status_code == 400
    assert "delegated" in response.json()["error"]["message"]

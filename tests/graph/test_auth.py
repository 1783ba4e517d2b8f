"""The double's Entra ID side: MSAL secret and certificate flows, token errors, 401/403."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import msal
import pytest

from tests.graph import AppCertificate, GraphDouble
from tests.graph.conftest import graph_client, token_for

SCOPE = ["https://graph.microsoft.com/.default"]


class FormSafeClient(httpx.Client):
    """httpx for MSAL's certificate flow.

    MSAL posts the client_assertion as bytes; httpx form-encodes a bytes value as its
    repr ("b'eyJ...'"), which Entra ID (and the double) reject as a malformed JWT.
    """

    def post(self, url: Any, *, data: Any = None, **options: Any) -> httpx.Response:
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return super().post(url, data=data, **options)


def msal_app(
    double: GraphDouble, client_id: str, credential: Any, http: httpx.Client | None = None
) -> Any:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=double.authority,
        instance_discovery=False,
        http_client=http or httpx.Client(verify=double.tls_verify()),
    )


def events_status(double: GraphDouble, token: str) -> int:
    with graph_client(double, token) as client:
        return client.get("/users/anna@contoso.test/calendar/events").status_code


def test_msal_gets_a_token_with_the_client_secret(double: GraphDouble) -> None:
    result = msal_app(double, double.client_id, double.client_secret).acquire_token_for_client(
        SCOPE
    )
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 3000
    assert events_status(double, result["access_token"]) == 200


@pytest.mark.parametrize(
    "with_certificate", [False, True], ids=["sha1-thumbprint-rs256", "certificate-ps256"]
)
def test_msal_gets_a_token_with_a_certificate(double: GraphDouble, with_certificate: bool) -> None:
    credential, client_id = AppCertificate.new(), str(uuid.uuid4())
    double.add_app(client_id, certificate_pem=credential.certificate_pem)
    http = FormSafeClient(verify=double.tls_verify())
    app = msal_app(
        double, client_id, credential.msal_credential(with_certificate=with_certificate), http
    )
    result = app.acquire_token_for_client(SCOPE)
    assert "access_token" in result, result
    assert events_status(double, result["access_token"]) == 200


def test_msal_certificate_flow_over_plain_httpx_sends_a_malformed_assertion(
    double: GraphDouble,
) -> None:
    credential, client_id = AppCertificate.new(), str(uuid.uuid4())
    double.add_app(client_id, certificate_pem=credential.certificate_pem)
    result = msal_app(double, client_id, credential.msal_credential()).acquire_token_for_client(
        SCOPE
    )
    assert result["error_codes"] == [50027]


def test_an_unregistered_certificate_is_refused(double: GraphDouble) -> None:
    registered, other, client_id = AppCertificate.new(), AppCertificate.new(), str(uuid.uuid4())
    double.add_app(client_id, certificate_pem=registered.certificate_pem)
    http = FormSafeClient(verify=double.tls_verify())
    unknown = msal_app(double, client_id, other.msal_credential(), http).acquire_token_for_client(
        SCOPE
    )
    assert unknown["error"] == "invalid_client"
    assert unknown["error_codes"] == [700027]
    forged = {"private_key": other.private_key_pem, "thumbprint": registered.sha1_thumbprint}
    bad_signature = msal_app(double, client_id, forged, http).acquire_token_for_client(SCOPE)
    assert bad_signature["error_codes"] == [700027]
    assert "signature" in bad_signature["error_description"]


def assertion(credential: AppCertificate, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "aud": "x",
        "iss": "x",
        "sub": "x",
        "exp": now + 600,
        "iat": now,
        "jti": "1",
        **claims,
    }
    header = {"x5t": jwt.utils.base64url_encode(bytes.fromhex(credential.sha1_thumbprint)).decode()}
    return jwt.encode(payload, credential.private_key_pem, algorithm="RS256", headers=header)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 60}, 700024),
        ({"aud": "https://elsewhere/token"}, 700016),
        ({"iss": "someone-else", "sub": "someone-else"}, 700021),
    ],
)
def test_assertion_claims_are_checked(
    double: GraphDouble, claims: dict[str, Any], code: int
) -> None:
    credential, client_id = AppCertificate.new(), str(uuid.uuid4())
    double.add_app(client_id, certificate_pem=credential.certificate_pem)
    endpoint = f"{double.authority}/oauth2/v2.0/token"
    signed = assertion(
        credential, **{"aud": endpoint, "iss": client_id, "sub": client_id, **claims}
    )
    response = httpx.post(
        endpoint,
        verify=double.tls_verify(),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "scope": SCOPE[0],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )
    assert response.status_code == 401
    assert response.json()["error_codes"] == [code]


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_id": "nobody"}, 400, "unauthorized_client", 700016),
        ({"scope": "Calendars.ReadWrite"}, 400, "invalid_scope", 1002012),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
    ],
)
def test_token_endpoint_errors_have_aad_shape(
    double: GraphDouble, form: dict[str, str], status: int, error: str, code: int
) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": double.client_id,
        "client_secret": double.client_secret,
        "scope": SCOPE[0],
        **form,
    }
    response = httpx.post(
        f"{double.authority}/oauth2/v2.0/token", data=data, verify=double.tls_verify()
    )
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_unknown_tenant(double: GraphDouble) -> None:
    url = f"{double.base_url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration"
    response = httpx.get(url, verify=double.tls_verify())
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-jwt", "Basic abc"])
def test_graph_refuses_missing_or_malformed_tokens(
    double: GraphDouble, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(
        f"{double.graph_url}/users/anna@contoso.test/calendar/events",
        headers=headers,
        verify=double.tls_verify(),
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "WWW-Authenticate" in response.headers


def test_a_token_signed_by_someone_else_is_refused(double: GraphDouble) -> None:
    forged = jwt.encode(
        {
            "aud": "https://graph.microsoft.com",
            "appid": double.client_id,
            "gen": 0,
            "exp": int(time.time()) + 600,
        },
        "not the double's key " * 2,
        algorithm="HS256",
    )
    assert events_status(double, forged) == 401


def test_expired_tokens(double: GraphDouble) -> None:
    token = token_for(double)
    double.expire_tokens()
    assert events_status(double, token) == 401
    assert events_status(double, token_for(double)) == 200
    double.token_lifetime_seconds = 1
    try:
        short = httpx.post(
            f"{double.authority}/oauth2/v2.0/token",
            verify=double.tls_verify(),
            data={
                "grant_type": "client_credentials",
                "client_id": double.client_id,
                "client_secret": double.client_secret,
                "scope": SCOPE[0],
            },
        ).json()
        assert short["expires_in"] == 1
        time.sleep(2.1)
        assert events_status(double, short["access_token"]) == 401
    finally:
        double.token_lifetime_seconds = 3599


def test_revoked_app(double: GraphDouble) -> None:
    client_id, secret = str(uuid.uuid4()), "s3cret"
    double.add_app(client_id, secret=secret)
    token = token_for(double, client_id, secret)
    double.revoke(client_id)
    assert events_status(double, token) == 401
    result = msal_app(double, client_id, secret).acquire_token_for_client(SCOPE)
    assert result["error_codes"] == [65001]


def test_an_app_without_calendar_write_permission_gets_403_on_writes(double: GraphDouble) -> None:
    client_id, secret = str(uuid.uuid4()), "reader"
    double.add_app(client_id, secret=secret, roles=("Calendars.Read",))
    with graph_client(double, token_for(double, client_id, secret)) as client:
        assert client.get("/users/anna@contoso.test/calendar/events").status_code == 200
        response = client.post("/users/anna@contoso.test/calendar/events", json={})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "ErrorAccessDenied"
    client_id = str(uuid.uuid4())
    double.add_app(client_id, secret=secret, roles=("User.Read.All",))
    with graph_client(double, token_for(double, client_id, secret)) as client:
        assert client.get("/users/anna@contoso.test/calendar/events").status_code == 403

"""The double's Microsoft Entra ID: registered apps, the token endpoint, bearer checks.

The token endpoint implements the client credentials grant with a client secret or a
certificate (client_assertion, RFC 7523), and the authorization code and refresh token
grants of delegated sign-in (tests/graph/entra.py keeps their users, codes and consents).
A client assertion's signature is verified with the registered certificate the `x5t` /
`x5t#S256` header names, and its aud (the token endpoint), iss = sub (the client id) and
exp/nbf are checked. Errors carry AAD's shape and AADSTS codes. Access tokens are JWTs
signed by the double (HS256), so a token the double did not issue fails like a foreign
token fails at Graph; a delegated one carries `scp` and acts as its user. id_tokens are
RS256, their key published at the JWKS address of the OpenID configuration. An app
registered here (the home tenant) works in another tenant only after that tenant's
admin consented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.graph.entra import (
    OIDC_SCOPES,
    TENANT_ALIASES,
    Delegation,
    Grant,
    client_info,
    graph_scopes,
)
from tests.graph.errors import AadError, GraphError

GRAPH_RESOURCE = "https://graph.microsoft.com"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
WRITE_ROLE = "Calendars.ReadWrite"
READ_ROLES = frozenset({"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic.All"})


@dataclass
class App:
    client_id: str
    secret: str | None
    certificates: list[x509.Certificate]
    roles: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    revoked: bool = False

    @property
    def public(self) -> bool:
        """No credential registered: a public client (desktop, mobile), as Entra treats one."""
        return self.secret is None and not self.certificates

    def certificate_for(self, header: dict[str, Any]) -> x509.Certificate | None:
        """The registered certificate the assertion's x5t#S256 (or SHA-1 x5t) header names."""
        sha256, sha1 = _normal(header.get("x5t#S256")), _normal(header.get("x5t"))
        for certificate in self.certificates:
            if sha256 and sha256 == _thumbprint(certificate, hashes.SHA256()):
                return certificate
            if sha1 and sha1 == _thumbprint(certificate, hashes.SHA1()):
                return certificate
        return None


@dataclass(frozen=True)
class Principal:
    client_id: str
    roles: frozenset[str]  # application roles, or a delegated token's scopes
    user: str | None = None  # the signed-in user's object id (= mailbox id), if delegated
    tenant: str | None = None  # the token's tenant (None: any, for principals made in tests)

    def can_read(self) -> bool:
        return bool(self.roles & READ_ROLES)

    def can_write(self) -> bool:
        return WRITE_ROLE in self.roles


def _normal(thumbprint: object) -> str | None:
    """base64url without padding, whichever base64 alphabet and padding a client used."""
    if not isinstance(thumbprint, str):
        return None
    return thumbprint.replace("+", "-").replace("/", "_").rstrip("=")


def _thumbprint(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    return base64.urlsafe_b64encode(certificate.fingerprint(algorithm)).decode().rstrip("=")


@dataclass
class Directory:
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    base_url: str = "https://127.0.0.1"  # where the double serves (for the id_token's iss)
    token_lifetime_seconds: int = 3599
    apps: dict[str, App] = field(default_factory=dict)
    tenants: set[str] = field(default_factory=set)
    delegation: Delegation = field(default_factory=Delegation)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    signing_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    key_id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    _generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tenants.add(self.tenant_id)

    def add_tenant(self) -> str:
        tenant = str(uuid.uuid4())
        with self._lock:
            self.tenants.add(tenant)
        return tenant

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def tenant_of(self, mailbox_id: str) -> str:
        """The tenant of a mailbox's user: the home tenant unless added to another one."""
        found = self.delegation.user_by_oid(mailbox_id)
        return found.tenant if found is not None else self.tenant_id

    def knows(self, tenant: str) -> bool:
        return tenant.lower() in self.tenants

    def add_app(
        self,
        client_id: str,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
        roles: tuple[str, ...] = (WRITE_ROLE,),
        redirect_uris: tuple[str, ...] = (),
    ) -> App:
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        certificates = [x509.load_pem_x509_certificate(pem)] if pem else []
        app = App(client_id, secret, certificates, tuple(roles), tuple(redirect_uris))
        with self._lock:
            self.apps[client_id] = app
        return app

    def revoke(self, client_id: str) -> None:
        with self._lock:
            self.apps[client_id].revoked = True

    def expire_tokens(self) -> None:
        with self._lock:
            self._generation += 1

    # -- token endpoint ---------------------------------------------------------------

    def issue_token(self, tenant: str, form: dict[str, str], token_endpoint: str) -> dict[str, Any]:
        """The token response for a client credentials, code or refresh request, or AadError."""
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            return self._client_credentials(tenant, form, token_endpoint)
        if grant_type in {"authorization_code", "refresh_token"}:
            if tenant.lower() not in TENANT_ALIASES:
                self.check_tenant(tenant)
            app = self.client(form, token_endpoint)
            if grant_type == "authorization_code":
                return self._redeem_code(app, form)
            return self._refresh(app, form)
        raise AadError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )

    def check_tenant(self, tenant: str) -> None:
        if not self.knows(tenant):
            raise AadError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make "
                "sure you have the correct tenant ID and are signing into the correct cloud.",
            )

    def _client_credentials(
        self, tenant: str, form: dict[str, str], token_endpoint: str
    ) -> dict[str, Any]:
        self.check_tenant(tenant)
        client_id = _required(form, "client_id")
        _check_scope(_required(form, "scope"))
        app = self._app(client_id)
        self._authenticate_client(app, form, token_endpoint)
        tenant = tenant.lower()
        if tenant != self.tenant_id and (tenant, client_id) not in self.delegation.admin_consents:
            raise AadError(
                400,
                "unauthorized_client",
                7000229,
                f"The client application {client_id} is missing service principal in "
                f"the tenant {tenant}. See instructions here: https://go.microsoft.com/"
                "fwlink/?linkid=2225119",
            )
        return self._token_response(app, tenant)

    def client(self, form: dict[str, str], token_endpoint: str) -> App:
        """The app a delegated token request is from, authenticated unless it is public."""
        app = self._app(_required(form, "client_id"))
        if not app.public:
            self._authenticate_client(app, form, token_endpoint)
        elif form.get("client_secret") or form.get("client_assertion"):
            raise AadError(
                401,
                "invalid_client",
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' "
                "should be presented.",
            )
        return app

    def _redeem_code(self, app: App, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            code = self.delegation.redeem(
                _required(form, "code"),
                app.client_id,
                _required(form, "redirect_uri"),
                form.get("code_verifier"),
            )
        return self._delegated_response(code.grant, code.requested, form, code.nonce)

    def _refresh(self, app: App, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            grant = self.delegation.refresh(_required(form, "refresh_token"), app.client_id)
        requested = frozenset(form.get("scope", "").split()) or frozenset({"openid"})
        wanted = graph_scopes(form.get("scope", ""))
        if not wanted <= grant.scopes:
            raise AadError(
                400,
                "invalid_grant",
                65001,
                "The user or administrator has not consented to use the application "
                f"with ID '{app.client_id}'. Send an interactive authorization request "
                "for this user and resource.",
            )
        return self._delegated_response(grant, requested | {"offline_access"}, form, None)

    def _delegated_response(
        self, grant: Grant, requested: frozenset[str], form: dict[str, str], nonce: str | None
    ) -> dict[str, Any]:
        now, lifetime = int(time.time()), int(self.token_lifetime_seconds)
        user = grant.user
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{user.tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": grant.client_id,
            "tid": user.tenant,
            "oid": user.oid,
            "upn": user.upn,
            "scp": " ".join(sorted(grant.scopes)),
            "idtyp": "user",
            "uti": secrets.token_urlsafe(16),
            "gen": self._generation,
        }
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(sorted(grant.scopes | (requested & OIDC_SCOPES))),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": jwt.encode(claims, self._key, algorithm="HS256"),
        }
        if "offline_access" in requested:
            with self._lock:
                body["refresh_token"] = self.delegation.new_refresh_token(grant)
        if "openid" in requested:
            body["id_token"] = self._id_token(grant, nonce)
        if form.get("client_info") == "1":
            body["client_info"] = client_info(user)
        return body

    def _id_token(self, grant: Grant, nonce: str | None) -> str:
        now, user = int(time.time()), grant.user
        pairwise = hashlib.sha256(f"{user.oid}:{grant.client_id}".encode()).digest()
        claims: dict[str, Any] = {
            "ver": "2.0",
            "iss": self.issuer(user.tenant),
            "aud": grant.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": user.tenant,
            "oid": user.oid,
            "sub": base64.urlsafe_b64encode(pairwise).decode().rstrip("="),
            "preferred_username": user.upn,
            "name": user.upn.split("@")[0],
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.key_id})

    def issuer(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/v2.0"

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of the id_token signing key."""
        key = json.loads(RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        return {"keys": [{**key, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    def _app(self, client_id: str) -> App:
        app = self.apps.get(client_id)
        if app is None:
            raise AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier "
                f"'{client_id}' was not found in the directory '{self.tenant_id}'.",
            )
        if app.revoked:
            raise AadError(
                400,
                "invalid_grant",
                65001,
                "The user or administrator has not consented "
                f"to use the application with ID '{client_id}'.",
            )
        return app

    def _authenticate_client(self, app: App, form: dict[str, str], token_endpoint: str) -> None:
        if form.get("client_assertion"):
            _verify_assertion(app, form, token_endpoint)
        elif form.get("client_secret"):
            if app.secret is None or not hmac.compare_digest(form["client_secret"], app.secret):
                raise AadError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. "
                    "Ensure the secret being sent in the request is the client secret "
                    "value, not the client secret ID, for a secret added to app "
                    f"'{app.client_id}'.",
                )
        else:
            raise AadError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the "
                "following parameter: 'client_assertion' or 'client_secret'.",
            )

    def _token_response(self, app: App, tenant: str) -> dict[str, Any]:
        now = int(time.time())
        lifetime = int(self.token_lifetime_seconds)
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": app.client_id,
            "tid": tenant,
            "roles": list(app.roles),
            "idtyp": "app",
            "uti": secrets.token_urlsafe(16),
            "gen": self._generation,
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    # -- Graph side -------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        """The app behind a bearer token, or 401 InvalidAuthenticationToken."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("Access token is empty.")
        try:
            claims = jwt.decode(
                token.strip(), self._key, algorithms=["HS256"], audience=GRAPH_RESOURCE
            )
        except jwt.ExpiredSignatureError:
            raise _unauthenticated("Access token has expired or is not yet valid.") from None
        except jwt.DecodeError:
            raise _unauthenticated(
                "CompactToken parsing failed with error code: 80049217"
            ) from None
        except jwt.InvalidTokenError:
            raise _unauthenticated("Access token validation failure. Invalid audience.") from None
        app = self.apps.get(str(claims.get("appid")))
        if claims.get("gen") != self._generation or app is None or app.revoked:
            # Expired by expire_tokens(), or consent revoked (documented choice of the double:
            # Graph would accept such a token until its exp; the double refuses it at once).
            raise _unauthenticated("Access token has expired or is not yet valid.")
        if claims.get("idtyp") == "user":
            scopes = frozenset(claims["scp"].split())
            return Principal(app.client_id, scopes, claims["oid"], claims["tid"])
        return Principal(app.client_id, frozenset(app.roles), tenant=claims["tid"])


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise AadError(
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )
    return value


def _check_scope(scope: str) -> None:
    scopes = scope.split()
    if scopes != [f"{GRAPH_RESOURCE}/.default"]:
        raise AadError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not "
            "valid. Client credential flows must have a scope value with /.default "
            "suffixed to the resource identifier (application ID URI).",
        )


def _verify_assertion(app: App, form: dict[str, str], token_endpoint: str) -> None:
    if form.get("client_assertion_type") != JWT_BEARER:
        raise AadError(
            400,
            "invalid_request",
            50027,
            f"Invalid client_assertion_type: expected '{JWT_BEARER}'.",
        )
    assertion = form["client_assertion"]
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError:
        raise AadError(
            400, "invalid_request", 50027, "JWT token is invalid or malformed."
        ) from None
    certificate = app.certificate_for(header)
    if certificate is None:
        raise AadError(
            401,
            "invalid_client",
            700027,
            "The certificate with identifier used to sign "
            "the client assertion is not registered on application. [Reason - The key "
            "was not found., Thumbprint of key used by client: "
            f"'{header.get('x5t#S256') or header.get('x5t')}']",
        )
    claims = _decode_assertion(assertion, certificate, token_endpoint)
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise AadError(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        )


def _decode_assertion(
    assertion: str, certificate: x509.Certificate, audience: str
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=audience,
            options={"require": ["aud", "iss", "sub", "exp"]},
        )
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        raise AadError(
            401, "invalid_client", 700024, "Client assertion is not within its valid time range."
        ) from None
    except jwt.InvalidAudienceError:
        raise AadError(
            401,
            "invalid_client",
            700016,
            f"The audience claim of the client assertion must be the token endpoint '{audience}'.",
        ) from None
    except jwt.InvalidSignatureError:
        raise AadError(
            401, "invalid_client", 700027, "Client assertion failed signature validation."
        ) from None
    except jwt.InvalidTokenError as error:
        raise AadError(
            401, "invalid_client", 50027, f"JWT token is invalid or malformed: {error}."
        ) from None
    return claims


def _unauthenticated(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri='
            '"https://login.microsoftonline.com/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"',
        },
    )

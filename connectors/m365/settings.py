"""The `[connectors.<name>]` table of a Microsoft 365 tenant, and reading its credential.

One table is one app registration (client credentials) in one tenant. The
credential is a client secret or a certificate's PEM private key; either comes
from an environment variable or a file, never from the table itself. A
certificate credential names its certificate by `certificate_file` (the PEM
certificate; its thumbprints are computed, and MSAL then signs with PS256 and
`x5t#S256` as Entra's current certificate-credential page shows) or by a SHA-1
`certificate_thumbprint` alone (MSAL's older RS256 + `x5t`). MSAL for Python
(1.39, application.py) takes a SHA-1 thumbprint only as "thumbprint"; it
computes the SHA-256 one from "public_certificate", so a SHA-256 thumbprint
needs the certificate and is then checked against it.

`sign_in` says whose authority the connector writes with: "app" (the default)
is the app registration's own application permissions in `tenant_id` (its home
tenant, or a merchant's tenant after admin consent); "delegated" is one user's
sign-in (`user`, their principal name, for display), whose token cache comes
from the account's credential (connectors/m365/delegated.py). A delegated
account reaches its user's own mailbox only: its calendar ids are `me` and
`me/<calendar id>`. `sign_in_tenant` is where delegated sign-in starts
("common": work, school and personal accounts, if the app registration allows
them; "organizations"; or one tenant).
"""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.m365.certificates import read_certificate
from connectors.secret_refs import SecretRef

#: The configuration's `kind`, and the name the connector reports under.
KIND = "m365"
#: Outlook's limit: concurrent requests per app and mailbox.
OUTLOOK_CONCURRENCY = 4
#: Graph's limit: requests in one JSON batch.
GRAPH_BATCH_LIMIT = 20
#: A tenant: its GUID, a domain, or an alias (common, organizations, consumers).
_TENANT = r"^[A-Za-z0-9.-]+$"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["m365"]
    tenant_id: str = Field(min_length=1, max_length=256, pattern=_TENANT)
    sign_in: Literal["app", "delegated"] = "app"
    user: str | None = Field(default=None, min_length=3, max_length=320, pattern=r"^[^\s/]+$")
    sign_in_tenant: str = Field(default="common", min_length=1, max_length=256, pattern=_TENANT)
    client_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    # SHA-1 (40 hex digits) or SHA-256 (64), colons allowed
    certificate_thumbprint: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f:]{40,95}$")
    certificate_file: str | None = None  # the PEM certificate (public) of the key
    certificate_key_env: str | None = None  # PEM private key of the certificate
    certificate_key_file: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    # The token's audience: Graph's application id URI, whichever host requests go to.
    token_scope: str = Field(default="https://graph.microsoft.com/.default", pattern=r"/\.default$")
    ca_file: str | None = None
    timeout_seconds: float = Field(default=60, gt=0)
    # Connections open to Graph at once, shared by every mailbox of the account: a
    # request beyond them waits for one to be free (it has not left: no failure).
    max_connections: int = Field(default=128, ge=1, le=4096)
    connect_timeout_seconds: float = Field(default=10, gt=0)
    # The worker's writes in flight per calendar; the connector folds them into
    # JSON batches and keeps Outlook's per-mailbox limit itself.
    concurrency_per_calendar: int = Field(default=GRAPH_BATCH_LIMIT, ge=1, le=100)
    requests_per_mailbox: int = Field(default=OUTLOOK_CONCURRENCY, ge=1, le=OUTLOOK_CONCURRENCY)
    batch_size: int = Field(default=GRAPH_BATCH_LIMIT, ge=1, le=GRAPH_BATCH_LIMIT)
    batch_linger_seconds: float = Field(default=0.005, ge=0, le=1)
    throttle_retries: int = Field(default=10, ge=0, le=100)
    retry_base_seconds: float = Field(default=0.5, ge=0)
    retry_max_seconds: float = Field(default=60, ge=0)
    reminder_minutes: int = Field(default=15, ge=0, le=40320)
    reminders: bool = True
    # Change notifications on /users/{id}/events are reported to cover the default
    # calendar only: a binding on another calendar is read at least this often.
    other_calendar_poll_seconds: float = Field(default=60, gt=0)

    @field_validator("authority_host", "graph_url")
    @classmethod
    def _https_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _delegated_user(self) -> Self:
        if (self.sign_in == "delegated") != (self.user is not None):
            raise ValueError('user (the signed-in principal name) goes with sign_in = "delegated"')
        return self

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        secrets = [s for s in (self.client_secret_env, self.client_secret_file) if s]
        keys = [k for k in (self.certificate_key_env, self.certificate_key_file) if k]
        if len(secrets) > 1 or len(keys) > 1:
            raise ValueError("name each secret once: *_env or *_file, not both")
        if bool(secrets) == bool(keys):
            raise ValueError("set exactly one of a client secret and a certificate key")
        named = self.certificate_thumbprint is not None or self.certificate_file is not None
        if bool(keys) != named:
            raise ValueError(
                "certificate_key_* goes with certificate_file or certificate_thumbprint"
            )
        if self.thumbprint_hex is not None and len(self.thumbprint_hex) not in {40, 64}:
            raise ValueError("certificate_thumbprint must be a SHA-1 or a SHA-256 thumbprint")
        if self.sha256_thumbprint and self.certificate_file is None:
            raise ValueError(
                "a SHA-256 certificate_thumbprint needs certificate_file: MSAL computes "
                "x5t#S256 from the certificate itself"
            )
        return self

    @property
    def thumbprint_hex(self) -> str | None:
        if self.certificate_thumbprint is None:
            return None
        return self.certificate_thumbprint.replace(":", "").upper()

    @property
    def sha256_thumbprint(self) -> bool:
        hex_digits = self.thumbprint_hex
        return hex_digits is not None and len(hex_digits) == 64

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def sign_in_authority(self) -> str:
        return f"{self.authority_host}/{self.sign_in_tenant}"


def read_credential(settings: Settings) -> str | dict[str, str]:
    """MSAL's `client_credential`: the secret, or the certificate (or its thumbprint) and key."""
    key_env, key_file = settings.certificate_key_env, settings.certificate_key_file
    if key_env is None and key_file is None:
        return SecretRef(
            "client_secret", settings.client_secret_env, settings.client_secret_file
        ).require()
    key = SecretRef("certificate_key", key_env, key_file).require()
    if settings.certificate_file is not None:
        certificate = read_certificate(settings.certificate_file, settings.thumbprint_hex)
        return {"private_key": key, "public_certificate": certificate}
    assert settings.thumbprint_hex is not None  # the validator allows no third way
    return {"thumbprint": settings.thumbprint_hex, "private_key": key}

"""The `[connectors.<name>]` table of a Microsoft 365 tenant, and reading its credential.

One table is one app registration (client credentials) in one tenant. The
credential is a client secret or a certificate (its SHA-1 thumbprint and PEM
private key); either comes from an environment variable or a file, never from
the table itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncd.errors import ConfigError

#: Outlook's limit: concurrent requests per app and mailbox.
OUTLOOK_CONCURRENCY = 4
#: Graph's limit: requests in one JSON batch.
GRAPH_BATCH_LIMIT = 20


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["m365"]
    tenant_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.-]+$")  # GUID or domain
    client_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    certificate_thumbprint: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f:]{40,59}$")
    certificate_key_env: str | None = None  # PEM private key of the certificate
    certificate_key_file: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    # The token's audience: Graph's application id URI, whichever host requests go to.
    token_scope: str = Field(default="https://graph.microsoft.com/.default", pattern=r"/\.default$")
    ca_file: str | None = None
    timeout_seconds: float = Field(default=60, gt=0)
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
    def _one_credential(self) -> Self:
        secrets = [s for s in (self.client_secret_env, self.client_secret_file) if s]
        keys = [k for k in (self.certificate_key_env, self.certificate_key_file) if k]
        if len(secrets) > 1 or len(keys) > 1:
            raise ValueError("name each secret once: *_env or *_file, not both")
        if bool(secrets) == bool(keys):
            raise ValueError("set exactly one of a client secret and a certificate key")
        if bool(keys) != (self.certificate_thumbprint is not None):
            raise ValueError("certificate_thumbprint and certificate_key_* go together")
        return self

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"


def read_credential(settings: Settings) -> str | dict[str, str]:
    """MSAL's `client_credential`: the secret, or the certificate's thumbprint and key."""
    if settings.certificate_thumbprint is not None:
        key_env, key_file = settings.certificate_key_env, settings.certificate_key_file
        key = _secret("certificate_key", key_env, key_file)
        thumbprint = settings.certificate_thumbprint.replace(":", "").upper()
        return {"thumbprint": thumbprint, "private_key": key}
    return _secret("client_secret", settings.client_secret_env, settings.client_secret_file)


def _secret(name: str, env: str | None, file: str | None) -> str:
    if env is not None:
        value = os.environ.get(env, "")
        if not value:
            raise ConfigError([f"{name}_env: environment variable {env} is not set or empty"])
        return value
    assert file is not None  # the validator allows no third way
    try:
        value = Path(file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError([f"{name}_file: cannot read {file} ({exc.strerror})"]) from None
    if not value:
        raise ConfigError([f"{name}_file: {file} is empty"])
    return value

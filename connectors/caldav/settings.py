"""The `[connectors.<name>]` table of a CalDAV account, and reading its secret.

The same table describes an account stored by the caller (validated with the
`connectors.STORED_ACCOUNT` context): then without password_env/password_file,
the password coming from its `Credential`."""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.secret_refs import SecretRef


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["caldav"]
    url: str  # the server's DAV root; calendar ids are collection paths under it
    username: str | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    password_file: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    concurrency_per_calendar: int = Field(default=4, ge=1, le=64)

    @field_validator("url")
    @classmethod
    def _http_url_without_credentials(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials; use username and password_env")
        return url if url.endswith("/") else url + "/"

    @model_validator(mode="after")
    def _username_with_one_password_source(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get("stored_account"):
            return self._without_password_keys()
        sources = [s for s in (self.password_env, self.password_file) if s is not None]
        if len(sources) > 1:
            raise ValueError("set only one of password_env and password_file")
        if bool(sources) != (self.username is not None):
            raise ValueError("username and password_env or password_file go together")
        return self

    def _without_password_keys(self) -> Self:
        """A stored account's password is its credential, never a key of the table."""
        if self.password_env is not None or self.password_file is not None:
            raise ValueError("a stored account takes its password from its credential, "
                             "not password_env or password_file")
        return self


def read_password(settings: Settings) -> str | None:
    """The account's password from the environment or a file (None without a username);
    `ConfigError` if it is not there."""
    if settings.password_env is None and settings.password_file is None:
        return None
    return SecretRef("password", settings.password_env, settings.password_file).require()

"""The `[manage]` table: customer self-service (the manage and rating pages, their links)."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from connectors.secret_refs import SecretRef
from syncd.config.section import Section

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class ManageSettings(Section):
    """Customer self-service: the public address of the manage pages and their secret."""

    # where customers reach syncd; links are {public_url}/manage/{token}. Unset: no links
    public_url: HttpUrl | None = None
    secret_env: str | None = "SYNCD_MANAGE_SECRET"  # noqa: S105 - a variable's name: the pages' HMAC key
    secret_file: str | None = None
    busy_cache_seconds: float = Field(default=60.0, ge=0)
    # a slot chosen from busy time this old may still be confirmed; older must be listed again
    busy_confirm_seconds: float = Field(default=900.0, ge=0)
    busy_timeout_seconds: float = Field(default=10.0, gt=0)
    # a confirmation reads the slot on each staff calendar again, this long at most
    confirm_timeout_seconds: float = Field(default=3.0, gt=0)
    failures_per_minute: int = Field(default=20, ge=1)
    # a rating link works this long after the booking's end; a rating given can be
    # changed this long after it was first given
    rating_days: float = Field(default=30.0, gt=0, le=365)
    rating_change_hours: float = Field(default=72.0, ge=0)
    # Host headers the pages answer; unset: public_url's host and the loopback names
    trusted_hosts: list[str] | None = None

    def secret_ref(self) -> SecretRef:
        return SecretRef("manage.secret", self.secret_env, self.secret_file)

    def secret(self) -> str | None:
        return self.secret_ref().read()

    def allowed_hosts(self) -> list[str]:
        if self.trusted_hosts is not None:
            return self.trusted_hosts
        public = [self.public_url.host] if self.public_url and self.public_url.host else []
        return [*public, *LOOPBACK_HOSTS]

    def link(self, token: str) -> str | None:
        if self.public_url is None:
            return None
        return f"{str(self.public_url).rstrip('/')}/manage/{token}"


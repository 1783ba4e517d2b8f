"""The `[reconcile.graph]` table: change notifications from Microsoft Graph.

With `public_url` set, every bound Microsoft 365 calendar gets a subscription on
its mailbox's events, and Graph's notifications make that calendar's next pass
due at once. Without it syncd only polls (`reconcile.interval_seconds`), which
it does either way as the safety net.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NOTIFICATIONS_PATH = "/graph/notifications"
LIFECYCLE_PATH = "/graph/lifecycle"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class GraphNotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # syncd's web handler as Graph reaches it (https); unset: no subscriptions, polling only
    public_url: str | None = None
    # lifetime asked for each subscription (Outlook allows 4230 minutes, newer docs 10080)
    subscription_minutes: int = Field(default=4230, ge=10, le=10080)
    # renewed when less than this is left (checked on each of the calendar's passes)
    renew_before_minutes: int = Field(default=1440, ge=1)

    @field_validator("public_url")
    @classmethod
    def _reachable_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK  # tests, a local proxy
        if not parts.hostname or not (parts.scheme == "https" or loopback):
            raise ValueError("must be an https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _renewal_within_lifetime(self) -> Self:
        if self.renew_before_minutes >= self.subscription_minutes:
            raise ValueError("renew_before_minutes must be less than subscription_minutes")
        return self

    @property
    def notification_url(self) -> str | None:
        return None if self.public_url is None else self.public_url + NOTIFICATIONS_PATH

    @property
    def lifecycle_url(self) -> str | None:
        return None if self.public_url is None else self.public_url + LIFECYCLE_PATH

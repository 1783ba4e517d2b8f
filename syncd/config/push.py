"""The `[reconcile.graph]` table: change notifications pushed by the calendar services.

With `public_url` set, every bound calendar whose connector can subscribe to its
changes (connectors/push.py; today Microsoft 365) gets a subscription, and the
service's notifications make that calendar's next pass due at once. Without it
syncd only polls (`reconcile.interval_seconds`), which it does either way as the
safety net. The table keeps the name it had when Microsoft Graph was the only
service that pushed: operators' files name it.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from connectors.push import Endpoints
from syncd.config.section import Section

PUSH_PREFIX = "/push"  # each kind's feed is served under /push/<kind>
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def feed_prefix(kind: str) -> str:
    """Where the web handler serves the push feed of connector kind `kind`."""
    return f"{PUSH_PREFIX}/{kind}"


class PushSettings(Section):
    # syncd's web handler as the services reach it (https); unset: no subscriptions, polling only
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

    def endpoints(self, kind: str, paths: Endpoints) -> Endpoints | None:
        """The URLs a new subscription of a `kind` calendar names; None without public_url."""
        if self.public_url is None:
            return None
        return paths.under(self.public_url + feed_prefix(kind))

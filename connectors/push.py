"""Change notifications a service pushes to syncd: a capability some connectors have.

Two halves, both optional for a connector:

- `ChangeSubscriptions`, per calendar: `Calendar.change_subscriptions()` gives
  them, or None where the service pushes nothing (its calendars are polled
  only). A subscription asks the service to POST a notification to syncd's
  endpoint whenever the calendar changes, each carrying the subscription's
  client state, a secret only the service and syncd know. It expires: syncd
  renews it in time or makes a new one; polling remains the safety net either way.
- `PushFeed`, per connector kind (its package's `PUSH_FEED`): what the service
  POSTs to those endpoints, read into `PushNotice`s. syncd's web handler serves
  each kind's feed at `/push/<kind>` plus its `paths` (and at any of its
  `former_prefixes`), checks every notice's client state against the hash it
  keeps, and answers; the feed knows only the service's wire format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    expires: datetime


@dataclass(frozen=True)
class Endpoints:
    """Where the service sends change notifications, and notices about the subscription."""

    notifications: str
    lifecycle: str

    def under(self, base_url: str) -> Endpoints:
        """These paths as URLs under `base_url` (no trailing slash)."""
        return Endpoints(base_url + self.notifications, base_url + self.lifecycle)


class ChangeSubscriptions(ABC):
    """Subscriptions to change notifications on one calendar (or on its whole mailbox).

    A notice on a subscription makes a pass due on the subscribed calendar and on
    every calendar sharing its `Connector.lease_key` (Graph's subscription is on
    the mailbox, whose calendars share one key)."""

    @abstractmethod
    async def create(
        self, endpoints: Endpoints, client_state: str, expires: datetime
    ) -> Subscription:
        """A new subscription; `PermanentError` when the service refuses it."""

    @abstractmethod
    async def renew(self, subscription_id: str, expires: datetime) -> Subscription:
        """Push the expiry out; `RemoteNotFound` when the service no longer has it."""

    @abstractmethod
    async def delete(self, subscription_id: str) -> None:
        """Remove it; one that is gone already is fine."""


class NoticeKind(StrEnum):
    """What one pushed item says."""

    CHANGED = "changed"  # the calendar changed: read it
    MISSED = "missed"  # the service dropped notifications: list the calendar again
    REAUTHORIZE = "reauthorize"  # the subscription wants renewing now
    REMOVED = "removed"  # the service dropped the subscription: make a new one
    LIFECYCLE = "lifecycle"  # another notice about the subscription, asking nothing


@dataclass(frozen=True)
class PushNotice:
    """One item of a POST, as far as syncd reads it. `subscription_id` is "" and
    `client_state` None where the item names none: such an item is refused."""

    subscription_id: str
    client_state: str | None
    kind: NoticeKind = NoticeKind.CHANGED

    @property
    def about_subscription(self) -> bool:
        """A notice about the subscription itself, not a change of the calendar."""
        return self.kind != NoticeKind.CHANGED


@dataclass(frozen=True)
class Handshake:
    """The answer to a service checking that the endpoint is syncd's (sent as text/plain)."""

    status: int
    text: str


class BadPushBodyError(ValueError):
    """A POSTed body that is not the service's notification (answered 400)."""

    status_code = 400


class PushBodyTooLargeError(BadPushBodyError):
    """A body, or a list of items, over the feed's caps (answered 413)."""

    status_code = 413


class PushFeed(ABC):
    """A service's notification POSTs, read. Everything it is handed comes from anyone on
    the internet: reading stays bounded (`max_body_bytes` is enforced by the caller before
    the body is read in full; the feed caps the items) and never raises anything but
    `BadPushBodyError`."""

    #: the endpoints under the feed's prefix, as given to `ChangeSubscriptions.create`
    paths = Endpoints("/notifications", "/lifecycle")
    #: where the feed was served before `/push/<kind>`; subscriptions made then name them
    former_prefixes: tuple[str, ...] = ()
    #: a body longer than this is refused (413) before it is read in full
    max_body_bytes = 256 * 1024
    #: the service's patience: an answer leaves by then even if the store has not finished
    answer_within_seconds = 2.5

    @abstractmethod
    def handshake(self, query: Mapping[str, str]) -> Handshake | None:
        """The answer to a POST with this query string when it is the service's check of
        the endpoint (made while a subscription is being created); None otherwise."""

    @abstractmethod
    def read(self, body: bytes) -> list[PushNotice]:
        """The notices of one POSTed body; `BadPushBodyError` (or `PushBodyTooLargeError`) if it is
        not one. An item that names no subscription becomes a notice that is refused."""

"""Change notifications a service pushes to syncd: a capability some calendars have.

`Calendar.change_subscriptions()` gives a calendar's subscriptions, or None
where the service pushes nothing (its calendars are polled only). A
subscription asks the service to POST a notification to syncd's endpoint
whenever the calendar changes, each carrying the subscription's client state,
a secret only the service and syncd know. It expires: syncd renews it in time
or makes a new one; polling remains the safety net either way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    expires: datetime


@dataclass(frozen=True)
class Endpoints:
    """Where the service sends change notifications, and notices about the subscription."""

    notifications: str
    lifecycle: str


class ChangeSubscriptions(ABC):
    """Subscriptions to change notifications on one calendar (or on its whole mailbox)."""

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

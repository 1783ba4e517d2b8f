"""Microsoft 365 connector (registry kind "m365"): events on staff mailboxes through
Microsoft Graph, app-only (an app registration's tenant, or a merchant's after admin
consent) or delegated (one user's sign-in, its token cache held by the caller).

Split by concern: `settings` (the configuration table and its credential),
`auth` (MSAL tokens, off the event loop), `delegated` (a signed-in user's tokens
from their token cache, and `credential`, the Protocol that holds it), `signin`
(admin consent and delegated sign-in for the connect page), `calendars` (a
mailbox's calendars to choose from), `http` (the clients, and Graph's
errors as syncd's), `limiter` (each mailbox's request slots and Retry-After
gate), `batch` (each mailbox's requests folded into JSON batches), `events`
(EventSpec to Graph JSON and back), `calendar` (the contract's operations on
one mailbox calendar), `connector` (the app registration), `subscriptions`
(change-notification subscriptions on a mailbox) and `push` (Graph's
notification POSTs read: the kind's push feed, `PUSH_FEED`).
"""

from __future__ import annotations

from connectors.m365.calendar import M365Calendar
from connectors.m365.connector import (
    M365Connector,
    build,
    build_with_credential,
    calendar_identity,
)
from connectors.m365.push import PUSH_FEED
from connectors.m365.settings import Settings

__all__ = [
    "PUSH_FEED",
    "M365Calendar",
    "M365Connector",
    "Settings",
    "build",
    "build_with_credential",
    "calendar_identity",
]

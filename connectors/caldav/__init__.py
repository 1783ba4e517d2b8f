"""CalDAV connector (registry kind "caldav"), tested against Radicale and Xandikos.

Split by concern: `settings` (the configuration table and its secret), `http`
(the httpx client and error translation), `ical` (VCALENDAR in and out),
`reports` (WebDAV bodies and multistatus), `calendar` (the contract's
operations on one collection), `connector` (the account), `discovery` (from an
email address or URL to an account's calendars, with `discovery_start`,
`discovery_http` and `discovery_errors`).
"""

from __future__ import annotations

from connectors.caldav.calendar import CalDAVCalendar
from connectors.caldav.connector import (
    CalDAVConnector,
    build,
    build_with_credential,
    calendar_identity,
)
from connectors.caldav.settings import Settings

__all__ = [
    "CalDAVCalendar", "CalDAVConnector", "Settings", "build", "build_with_credential",
    "calendar_identity",
]

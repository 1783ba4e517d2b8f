"""The `[connect]` table: the links that let a staff member connect their own calendar.

The pages live beside the manage pages (same public address, same Host rules,
same secret for their forms); only what is their own is set here.
"""

from __future__ import annotations

from pydantic import Field

from syncd.config.section import Section


class ConnectSettings(Section):
    # a connect link works this long after it was issued, unless revoked sooner
    link_days: float = Field(default=7.0, gt=0, le=90)
    # what a half-finished connection keeps (the password typed, Microsoft's sign-in
    # state, the calendars found) is dropped when this old
    draft_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # a staff member's CalDAV address may name a loopback or private address (a server on
    # this host or its network); off, such an address is refused before anything is sent
    allow_private_addresses: bool = False
    # the [connectors.<name>] table (kind m365) staff sign in with; unset: the only one
    m365_app: str | None = None

"""What a connection in several steps has gathered, kept sealed on its link's row.

A draft holds secrets (a password, MSAL's sign-in state or token cache), so it
is sealed (`Seal`: the credentials' MultiFernet, syncd/store/sealing.py) before
it is stored, and opened only by the page that continues the connection. It is
replaced by each new start, dropped once the calendar is bound, and ignored when
older than `[connect] draft_minutes`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

from syncd.store.connect_tokens import ConnectToken

DraftKind = Literal["caldav", "m365_sign_in", "m365"]  # m365_sign_in: waiting for Microsoft


class Seal(Protocol):
    def seal(self, secret: str) -> str: ...
    def open(self, sealed: str) -> str: ...


@dataclass(frozen=True)
class CalendarOption:
    """A calendar found in the account: what a binding names, and what the page shows."""

    calendar_id: str
    name: str
    colour: str | None = None
    usable: bool = True
    why_not: str | None = None  # for one that cannot be chosen: why, in words


@dataclass(frozen=True)
class Draft:
    kind: DraftKind
    # the account's settings without secrets (caldav: url, username; m365: tenant_id, user…)
    settings: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None  # the password, or MSAL's token cache
    flow: dict[str, Any] | None = None  # MSAL's auth code flow, between redirect and callback
    calendars: tuple[CalendarOption, ...] = ()
    # an account of the merchant's to bind with (an organisation's that consented), rather
    # than one made from `settings` and `secret`
    account_key: str | None = None
    token: str | None = None  # m365_sign_in: the link's own, for the pages after Microsoft's

    def option(self, calendar_id: str) -> CalendarOption | None:
        return next((c for c in self.calendars if c.calendar_id == calendar_id), None)

    def to_text(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_text(cls, text: str) -> Draft:
        data = json.loads(text)
        calendars = tuple(CalendarOption(**c) for c in data.pop("calendars"))
        return cls(**data, calendars=calendars)


def keep_draft(
    session: Session, link: ConnectToken, draft: Draft, seal: Seal, now: datetime
) -> None:
    link.draft, link.draft_at = seal.seal(draft.to_text()), now
    session.flush()


def open_draft(link: ConnectToken, seal: Seal, now: datetime, minutes: float) -> Draft | None:
    """The link's draft, unless there is none or it is too old."""
    if link.draft is None or link.draft_at is None:
        return None
    if now - link.draft_at > timedelta(minutes=minutes):
        return None
    return Draft.from_text(seal.open(link.draft))


def drop_draft(link: ConnectToken) -> None:
    link.draft = link.draft_at = None

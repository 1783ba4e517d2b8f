"""A mailbox's calendars (GET /me/calendars or /users/{id}/calendars), to choose one to bind.

Each becomes a `CalendarChoice` whose `calendar_id` is what a binding names: the
mailbox alone for the default calendar, `<mailbox>/<calendar id>` for the others.
Graph's answer is read defensively (it is from outside): entries without an id
or name are skipped, names are cut to a length a page can show, and at most
`MAX_PAGES` pages are followed. A mailbox Graph does not know (404) is
`RemoteNotFound`; one the account may not read is `AuthError` (403, or no consent).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.errors import PermanentError, RemoteNotFound
from connectors.m365.http import GraphRequest, GraphResponse, error_for

if TYPE_CHECKING:
    from connectors.m365.calendar import CalendarTarget

MAX_PAGES = 20
_NAME_LENGTH = 255
_HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")

Send = Callable[[GraphRequest], Awaitable[GraphResponse]]


@dataclass(frozen=True)
class CalendarChoice:
    calendar_id: str  # what a binding names: "me", "me/<id>", "<user>", "<user>/<id>"
    name: str
    color: str | None  # "#RRGGBB" if the owner chose one (Graph's hexColor), else None
    can_edit: bool  # whether this account may write events there
    is_default: bool


async def calendars_of(
    target: CalendarTarget, send: Send, relative: Callable[[str], str]
) -> list[CalendarChoice]:
    """Every calendar of the target's mailbox, the default first."""
    found: list[CalendarChoice] = []
    url: str | None = target.calendars_path
    for _ in range(MAX_PAGES):
        if url is None:
            break
        body = await _page(send, url)
        found += [c for e in body["value"] if (c := _choice(target.mailbox, e)) is not None]
        link = body.get("@odata.nextLink")
        url = relative(link) if isinstance(link, str) else None
    return sorted(found, key=lambda c: (not c.is_default, c.name.casefold()))


async def _page(send: Send, url: str) -> dict[str, Any]:
    request = GraphRequest("GET", url)
    answer = await send(request)
    if answer.status == 404:  # ErrorInvalidUser, ResourceNotFound, ...: no such mailbox
        raise RemoteNotFound(f"GET {url.split('?', maxsplit=1)[0]}: no such mailbox")
    if not answer.ok:
        raise error_for(answer, request)
    body = answer.body
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise PermanentError(f"GET {url.split('?', maxsplit=1)[0]}: no collection in the answer")
    return body


def _choice(mailbox: str, entry: object) -> CalendarChoice | None:
    if not isinstance(entry, dict):
        return None
    calendar_id, name = entry.get("id"), entry.get("name")
    if not isinstance(calendar_id, str) or not calendar_id or not isinstance(name, str):
        return None
    default = entry.get("isDefaultCalendar") is True
    color = entry.get("hexColor")
    return CalendarChoice(
        calendar_id=mailbox if default else f"{mailbox}/{calendar_id}",
        name=name[:_NAME_LENGTH],
        color=color if isinstance(color, str) and _HEX_COLOR.match(color) else None,
        can_edit=entry.get("canEdit") is True,
        is_default=default,
    )

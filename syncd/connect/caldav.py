"""From what a staff member typed (an address or a server URL, a user name, a password) to
the calendars of their CalDAV account, as a draft to choose from.

Discovery itself is the connector's (connectors/caldav/discovery.py: RFC 6764,
the principal, its calendar home, the calendars); its failures become the
page's words here (problems.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from connectors.caldav.discovery import ClientOptions, Discovery, FoundCalendar, discover
from connectors.caldav.discovery_errors import DiscoveryError
from syncd.connect.drafts import CalendarOption, Draft
from syncd.connect.problems import (
    CALDAV_WORDS,
    NO_CALENDAR_FOR_EVENTS,
    PRIVATE_ADDRESS,
    Words,
    problem,
)

MAX_FIELD = 512
# a page waits for this: shorter than discovery's own minute
PAGE_OPTIONS = ClientOptions(timeout_seconds=10, deadline_seconds=25)
_GENERIC = Words("The calendars could not be found", "Please check what you typed and try again.")
TASKS_ONLY = "holds no events (tasks or notes only)"
READ_ONLY = "read-only for this account"


async def find_calendars(
    start: str, username: str, password: str, options: ClientOptions = PAGE_OPTIONS,
    *, private_addresses: bool = False,
) -> Draft:
    """The account reached from `start` and its calendars; `ConnectError` otherwise.

    Unless `private_addresses`, a host the person names must resolve to public addresses
    only: the page must not become a way to reach this server's own network.
    """
    if not private_addresses:
        await _refuse_private(start)
    try:
        found = await discover(start, username, password, options=options)
    except DiscoveryError as error:
        words = CALDAV_WORDS.get(error.code, _GENERIC)
        raise problem(error.code, words, None if error.code in CALDAV_WORDS else str(error)) \
            from None
    draft = _draft(found, username, password, options)
    if not any(option.usable for option in draft.calendars):
        raise problem("no_calendars", NO_CALENDAR_FOR_EVENTS)
    return draft


async def _refuse_private(start: str) -> None:
    text = start.strip()
    host = urlsplit(text).hostname if "://" in text else text.rpartition("@")[2]
    if not host:
        return  # discovery names what is wrong with it
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return  # discovery reports a name that does not resolve
    if any(not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in found):
        raise problem("private_address", PRIVATE_ADDRESS)


def _draft(found: Discovery, username: str, password: str, options: ClientOptions) -> Draft:
    settings: dict[str, object] = {"kind": "caldav", "url": found.account_url,
                                   "username": username}
    if options.ca_file is not None:
        settings["ca_file"] = options.ca_file
    calendars = tuple(sorted((_option(c) for c in found.calendars),
                             key=lambda c: (not c.usable, c.name.casefold())))
    return Draft("caldav", settings, password, None, calendars)


def _option(calendar: FoundCalendar) -> CalendarOption:
    why_not = (TASKS_ONLY if not calendar.takes_events
               else READ_ONLY if calendar.writable is False else None)
    return CalendarOption(calendar.path, calendar.display_name, calendar.colour,
                          why_not is None, why_not)

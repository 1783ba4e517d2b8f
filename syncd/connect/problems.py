"""What goes wrong while connecting a calendar, in words the staff member can act on.

Each problem has a stable `code` (a test or a page may choose by it), a short
title and a text. CalDAV discovery's own errors (connectors/caldav/discovery_errors.py)
and Microsoft's sign-in errors (connectors/m365/signin.py) are translated here;
their messages name hosts and error numbers, never a password.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectError(Exception):
    """A connection that could not be made; nothing was stored."""

    def __init__(self, code: str, title: str, text: str) -> None:
        super().__init__(text)
        self.code, self.title, self.text = code, title, text


@dataclass(frozen=True)
class Words:
    title: str
    text: str


WRONG_PASSWORD = Words(
    "The password was not accepted",
    "Wrong password — iCloud and Fastmail need an app-specific password. The server refused "
    "this user name and password: check both. An app-specific password is made in your "
    "account's security settings; use it here instead of your usual one.",
)
NO_CALENDAR_FOR_EVENTS = Words(
    "No calendar that takes events",
    "Your account was found, but none of its calendars can hold events that you may change "
    "(they are read-only, or for tasks only). Create a calendar in your calendar app, then "
    "try again.",
)
CALDAV_WORDS: dict[str, Words] = {
    "wrong_credentials": WRONG_PASSWORD,
    "no_caldav": Words(
        "No calendar server at this address",
        "This server does not offer CalDAV at this address. Check the address, or use the "
        "CalDAV address your provider documents (Nextcloud: https://your-cloud/remote.php/dav; "
        "Fastmail: https://caldav.fastmail.com; iCloud: your Apple ID email address).",
    ),
    "tls_failure": Words(
        "Secure connection failed",
        "The secure (TLS) connection to the server failed: its certificate is not trusted or "
        "does not match its name. Nothing was sent to it. Check the address; if your server "
        "uses a certificate of its own, ask the business to connect it for you.",
    ),
    "no_calendars": NO_CALENDAR_FOR_EVENTS,
    "access_denied": Words(
        "Calendars not available",
        "The server accepted the login but does not let this account use its calendars. "
        "Ask the server's administrator to allow CalDAV for your account.",
    ),
    "host_not_found": Words("Address not found", "No server has this name: check the spelling."),
    "unreachable": Words(
        "Server not reachable",
        "Nothing answers at this address: check the address and port, or try again later.",
    ),
    "timeout": Words("No answer", "The server did not answer in time. Please try again later."),
    "server_error": Words(
        "The server failed", "The calendar server answered with an error. Try again later.",
    ),
    "bad_answer": Words(
        "Unexpected answer",
        "The server's answer is not one a calendar server gives. Check the address.",
    ),
    "invalid_start": Words(
        "Please check the address",
        "Type your email address (for example ana@icloud.com) or the server's address "
        "starting with https://.",
    ),
}
PRIVATE_ADDRESS = Words(
    "This address cannot be used",
    "This address points into a private network, which this service does not connect to. "
    "Use the public address of your calendar provider.",
)
EXPIRED_LINK = Words(
    "Link not valid",
    "This link does not work (any more). It may be mistyped, expired or replaced by a newer "
    "one. Please ask the business for a new link.",
)
M365_WORDS: dict[str, Words] = {
    "declined": Words(
        "Sign-in cancelled",
        "The sign-in at Microsoft was cancelled or the permission was declined, so nothing was "
        "connected. To connect your calendar, start again and accept the calendar permission.",
    ),
    "consent": Words(
        "Your organisation has not allowed this",
        "Your organisation has not given its consent to this app, so your calendar cannot be "
        "connected yet. Ask your IT administrator to approve it, or ask the business to connect "
        "your organisation.",
    ),
    "mismatch": Words(
        "Please start again",
        "This answer from Microsoft belongs to another or an older sign-in (another tab?). "
        "Please start again.",
    ),
    "expired": Words(
        "Please start again", "The sign-in took too long or was used already. Please start again.",
    ),
    "refused": Words("Microsoft refused the sign-in", "Please start again."),
    "unavailable": Words(
        "Microsoft cannot be reached",
        "Microsoft's sign-in service could not be reached. Please try again in a minute.",
    ),
    "no_calendars": Words(
        "No calendar that takes events",
        "Your account was found, but you may not add events to any of its calendars.",
    ),
    "no_mailbox": Words(
        "Mailbox not found",
        "Your organisation has no mailbox with this address, or this app may not use it. "
        "Check the address.",
    ),
}


def problem(code: str, words: Words, detail: str | None = None) -> ConnectError:
    text = words.text if detail is None else f"{words.text} ({detail})"
    return ConnectError(code, words.title, text)

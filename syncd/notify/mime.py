"""The MIME message, written directly: safe headers, text and HTML, the calendar parts.

Customer messages with a calendar follow what calendar clients expect of an
invitation (RFC 6047):

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                                 quoted-printable
    │   ├── text/html                                  quoted-printable
    │   └── text/calendar; method=REQUEST (or CANCEL)  quoted-printable
    └── application/ics; name=invite.ics               base64, attachment

The shape is fixed, so it is written here rather than through the email
package's EmailMessage, which took ten times as long as SMTP itself to build
one. Boundaries derive from the Message-ID, so a message built again after a
crash is the same bytes. Every header value built from booking data goes
through `one_line` and RFC 2047 encoding (the email package's Header and
formataddr), so a name holding a line break cannot add a header or a
recipient. The tests read every message back with the email package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr

CRLF = "\r\n"
MAX_HEADER_TEXT = 200
_LINE_BREAKING = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def one_line(value: str, limit: int = MAX_HEADER_TEXT) -> str:
    """`value` with control and line-breaking characters turned to spaces, on one short line."""
    if value.isprintable():
        return " ".join(value.split())[:limit]
    cleaned = "".join(
        " " if unicodedata.category(char) in _LINE_BREAKING else char for char in value
    )
    return " ".join(cleaned.split())[:limit]


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str  # already checked: plain ASCII addr-spec


@dataclass(frozen=True)
class Headers:
    sender: Mailbox
    to: Mailbox
    reply_to: Mailbox | None
    subject: str
    date: datetime
    message_id: str


@dataclass(frozen=True)
class CalendarPart:
    method: str
    ics: str


def _encoded(name: str, text: str) -> str:
    """A header's text, RFC 2047-encoded when not ASCII, folded at 78 characters."""
    if text.isascii() and len(name) + len(text) < 76:
        return text
    charset = "us-ascii" if text.isascii() else "utf-8"
    return str(Header(text, charset, header_name=name).encode(linesep=CRLF, maxlinelen=78))


def _mailbox(name: str, mailbox: Mailbox) -> str:
    display = one_line(mailbox.name)
    if display.isascii():
        return str(formataddr((display, mailbox.address)))
    return f"{_encoded(name, display)} <{mailbox.address}>"


def _header_lines(headers: Headers) -> list[str]:
    lines = [
        f"From: {_mailbox('From', headers.sender)}",
        f"To: {_mailbox('To', headers.to)}",
    ]
    if headers.reply_to is not None:
        lines.append(f"Reply-To: {_mailbox('Reply-To', headers.reply_to)}")
    return [
        *lines,
        f"Subject: {_encoded('Subject', one_line(headers.subject, limit=300))}",
        f"Date: {format_datetime(headers.date)}",
        f"Message-ID: {headers.message_id}",
        "Auto-Submitted: auto-generated",  # RFC 3834: no auto-replies
        "MIME-Version: 1.0",
    ]


def _quoted_printable(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(lines.encode(), istext=True).decode("ascii").replace("\n", CRLF)


def _text_part(subtype: str, text: str, params: str = "") -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{params}{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        f"{_quoted_printable(text)}"
    )


def _attachment(ics: str) -> str:
    encoded = base64.encodebytes(ics.encode()).decode("ascii").replace("\n", CRLF)
    return (
        f'Content-Type: application/ics; name="invite.ics"{CRLF}'
        f'Content-Disposition: attachment; filename="invite.ics"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{encoded}"
    )


def _multipart(subtype: str, boundary: str, parts: list[str]) -> str:
    # "=_" never occurs in quoted-printable or base64 text, so it cannot clash
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
        f"{body}--{boundary}--{CRLF}"
    )


def build_message(
    headers: Headers, text: str, html: str, calendar: CalendarPart | None = None
) -> bytes:
    seed = hashlib.sha256(headers.message_id.encode()).hexdigest()[:24]
    alternatives = [_text_part("plain", text), _text_part("html", html)]
    if calendar is None:
        body = _multipart("alternative", f"=_alt_{seed}", alternatives)
    else:
        alternatives.append(_text_part("calendar", calendar.ics, f"; method={calendar.method}"))
        inner = _multipart("alternative", f"=_alt_{seed}", alternatives)
        body = _multipart("mixed", f"=_mix_{seed}", [inner, _attachment(calendar.ics)])
    return (CRLF.join(_header_lines(headers)) + CRLF + body).encode("ascii")

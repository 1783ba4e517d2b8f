"""Writing iCalendar content lines (RFC 5545 3.1, 3.3.11) without building components.

A booking's VEVENT is a dozen known properties; icalendar's component model
(type inference per property, parameter objects, its serializer) cost more CPU
than the rest of a calendar write (bench/cost.py). The lines are written here
instead, for the CalDAV connector's events and the invitations in customer
mail alike, and every test reads them back with icalendar.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.icaltext import clean_text

CRLF = "\r\n"
MAX_OCTETS = 75  # per content line, before folding (RFC 5545 3.1)
BACKSLASH = ord("\\")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): no raw line break of any kind, no control character.

    A backslash is always escaped, so "C:\\New" stays what it says (icalendar's own
    writer reads a literal backslash-N as a line break).
    """
    escaped = clean_text(value).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\n", "\\n")


def fold(line: str) -> str:
    """`line` and its CRLF, in pieces of at most 75 octets, never splitting a UTF-8
    character or an escape (a backslash stays with what it escapes: some readers
    unescape each physical line on its own)."""
    if len(line) <= MAX_OCTETS and line.isascii():
        return line + CRLF
    data = line.encode()
    pieces, start, limit = [], 0, MAX_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        if end < len(data) and end - start > 1 and _opens_escape(data, start, end):
            end -= 1
        pieces.append(data[start:end].decode())
        start, limit = end, MAX_OCTETS - 1  # a continuation line starts with a space
    return f"{CRLF} ".join(pieces) + CRLF


def _opens_escape(data: bytes, start: int, end: int) -> bool:
    """Whether the piece data[start:end] ends in the backslash of an unfinished escape."""
    run = 0
    while end - run > start and data[end - run - 1] == BACKSLASH:
        run += 1
    return run % 2 == 1


def utc_stamp(instant: datetime) -> str:
    """A DATE-TIME in UTC form: 20261207T093000Z."""
    return f"{instant.astimezone(UTC):%Y%m%dT%H%M%SZ}"

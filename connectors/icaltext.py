"""Text bound for iCalendar (RFC 5545 3.3.11): line breaks of every kind become the one
line break TEXT can carry ("\\n", escaped on output), and other control characters go.

Customer names, notes and service names reach calendar events and invitations. A raw
U+2028, U+2029 or U+0085 there is a line break to readers that split lines with
`str.splitlines`, so a name could forge a content line (a DTSTART, an RRULE) in a
reader's eyes; RFC 5545 forbids control characters in TEXT anyway.
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAK = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def clean_text(value: str) -> str:
    """`value` with every line break as "\\n" and no other control character (tabs stay)."""
    if value.isprintable():
        return value
    lines = _LINE_BREAK.split(value)
    return "\n".join(_without_controls(line) for line in lines)


def _without_controls(line: str) -> str:
    return "".join(c for c in line if c == "\t" or unicodedata.category(c) not in ("Cc", "Cs"))

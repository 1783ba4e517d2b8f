"""Reading what a customer's browser sends: query parameters and url-encoded forms.

Everything is checked here and refused with `BadInputError` (a 400 page naming the
problem), so the pages and the domain only ever see well-formed values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from urllib.parse import parse_qsl

from starlette.requests import Request

from connectors.timerange import EARLIEST, LATEST
from syncd.web.errors import BadInputError

MAX_FORM_BYTES = 4096
_MAX_FIELDS = 16
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# what datetime.isoformat() writes for a slot: seconds and a UTC offset
_START = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$")
_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,128}$")


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The fields of an application/x-www-form-urlencoded body (first value of each).

    Any other body has no fields, so it carries no CSRF token either and is refused as such.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadInputError("The form is too large.")
    return _fields(body)


def _fields(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadInputError("The form could not be read.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if "\0" in name or "\0" in value:  # no browser sends it, and no database keeps it
            raise BadInputError("The form could not be read.")
        fields.setdefault(name, value)
    return fields


def optional_day(values: Mapping[str, str], name: str = "date") -> date | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    if not _DAY.match(value):
        raise BadInputError(f"The date {value[:40]!r} is not a date like 2030-03-04.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"The date {value!r} does not exist.") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise BadInputError(f"The date {value!r} is not one this page offers.")
    return day


def required_start(values: Mapping[str, str], name: str = "start") -> datetime:
    value = values.get(name, "").strip()
    if not value:
        raise BadInputError("Please choose a time.")
    if not _START.match(value):
        raise BadInputError(f"The time {value[:40]!r} is not a time this page offered.")
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"The time {value!r} does not exist.") from None
    if start.tzinfo is None or not EARLIEST <= start < LATEST:
        raise BadInputError(f"The time {value[:40]!r} is not a time this page offered.")
    return start


def optional_start(values: Mapping[str, str], name: str) -> datetime | None:
    return required_start(values, name) if values.get(name, "").strip() else None


def optional_staff(values: Mapping[str, str], name: str = "staff") -> str | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    if not _KEY.match(value):
        raise BadInputError("That staff member is not one this page offered.")
    return value


def required_stars(values: Mapping[str, str], name: str = "stars") -> int:
    value = values.get(name, "").strip()
    if value not in {"1", "2", "3", "4", "5"}:
        raise BadInputError("Please choose from 1 to 5 stars.")
    return int(value)


def optional_comment(values: Mapping[str, str], limit: int, name: str = "comment") -> str:
    value = values.get(name, "").strip().replace("\r\n", "\n")
    if len(value) > limit:
        raise BadInputError(f"Please keep the comment to {limit} characters.")
    return value

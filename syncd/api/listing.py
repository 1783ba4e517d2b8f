"""Rows the API names by id, and listings it answers a page at a time."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from syncd.api.handling import MAX_ID, reply
from syncd.errors import NotFound


def path_id(request: Request, name: str, what: str) -> int:
    """A row id from the path (an int route parameter); one too large to store names nothing."""
    value: int = request.path_params[name]
    if value > MAX_ID:
        raise NotFound(f"{what} {value}")
    return value


def page_reply(items: list[Any], next_cursor: int | str | None) -> JSONResponse:
    """One page of a listing; `next_cursor` (None on the last page) asks for the next."""
    cursor = None if next_cursor is None else str(next_cursor)
    return reply({"items": items, "next_cursor": cursor})

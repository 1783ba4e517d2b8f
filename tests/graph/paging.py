"""Collection responses: one page of `value` and an @odata.nextLink to the rest.

Page size: $top, else `Prefer: odata.maxpagesize`, else Graph's default of 10 for
Outlook collections. The next link repeats the request with $skip advanced.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from tests.graph.graph import Context
from tests.graph.odata import parse_skip, parse_top

DEFAULT_PAGE_SIZE = 10


def page_size(context: Context) -> int:
    top = parse_top(context.call.query.get("$top"))
    if top is not None:
        return top
    preferred = context.call.prefer.get("odata.maxpagesize", "")
    return max(1, min(int(preferred), 1000)) if preferred.isdigit() else DEFAULT_PAGE_SIZE


def collection(context: Context, items: list[dict[str, Any]], odata_context: str) -> dict[str, Any]:
    skip = parse_skip(context.call.query.get("$skip"))
    size = page_size(context)
    body: dict[str, Any] = {"@odata.context": odata_context, "value": items[skip : skip + size]}
    if skip + size < len(items):
        query = {**context.call.query, "$skip": str(skip + size)}
        body["@odata.nextLink"] = (
            context.state.graph_url + quote(context.call.path) + "?" + urlencode(query)
        )
    return body


def applied_preferences(context: Context) -> dict[str, str]:
    """The Preference-Applied header for the Prefer values the double honoured."""
    prefer, applied = context.call.prefer, []
    if "odata.maxpagesize" in prefer and "$top" not in context.call.query:
        applied.append(f"odata.maxpagesize={page_size(context)}")
    if prefer.get("outlook.timezone"):
        applied.append(f'outlook.timezone="{prefer["outlook.timezone"]}"')
    if prefer.get("idtype"):
        applied.append(f'IdType="{prefer["idtype"]}"')
    return {"Preference-Applied": ", ".join(applied)} if applied else {}

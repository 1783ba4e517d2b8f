"""Single-value extended properties: their id formats and how Graph compares them.

Ids follow the documented formats ("String {GUID} Name bookingId",
"String {GUID} Id 0x8001", "String 0x4001"). Type and GUID compare without regard to
case; the Name part is case-sensitive; values compare case-insensitively in $filter
(learn.microsoft.com: Get singleValueLegacyExtendedProperty).
"""

from __future__ import annotations

import re
from typing import Any

from tests.graph.errors import GraphError

_TYPES = "binary|boolean|clsid|currency|double|float|integer|long|object|short|string|systemtime"
_NAMED = re.compile(
    rf"^(?P<type>{_TYPES})\s+\{{(?P<guid>[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}})\}}\s+"
    r"(?P<kind>name|id)\s+(?P<name>\S.*)$",
    re.IGNORECASE,
)
_TAGGED = re.compile(rf"^(?P<type>{_TYPES})\s+(?P<tag>0x[0-9a-f]{{1,4}})$", re.IGNORECASE)


def canonical_id(property_id: object) -> str:
    """A comparison key for an extended property id, or 400 when it is malformed."""
    text = property_id.strip() if isinstance(property_id, str) else ""
    named = _NAMED.match(text)
    if named:
        name = named["name"] if named["kind"].lower() == "name" else named["name"].lower()
        return f"{named['type'].lower()} {{{named['guid'].lower()}}} {named['kind'].lower()} {name}"
    tagged = _TAGGED.match(text)
    if tagged:
        return f"{tagged['type'].lower()} {int(tagged['tag'], 16):#06x}"
    # Graph's message for an unparsable id; the documentation does not list it.
    raise GraphError(
        400, "ErrorInvalidProperty", f"The extended property id '{property_id}' is not valid."
    )


def parse_properties(value: Any) -> dict[str, tuple[str, str]]:
    """singleValueExtendedProperties from a request body: canonical id -> (id, value)."""
    if not isinstance(value, list):
        raise GraphError(
            400, "RequestBodyRead", "singleValueExtendedProperties must be a collection."
        )
    parsed = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise GraphError(
                400,
                "ErrorInvalidExtendedPropertyValue",
                "An extended property needs an id and a string value.",
            )
        parsed[canonical_id(item.get("id"))] = (str(item["id"]), item["value"])
    return parsed


def render_properties(
    properties: dict[str, tuple[str, str]], wanted: set[str] | None
) -> list[dict[str, str]]:
    """The properties an $expand asked for (all when `wanted` is None)."""
    return [
        {"id": pid, "value": value}
        for key, (pid, value) in properties.items()
        if wanted is None or key in wanted
    ]

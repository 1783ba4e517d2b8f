"""Request forms Graph's v1.0 reference does not document, refused unless allowed.

A form that works on a tenant today but is not in the reference may stop working
(or never work on another tenant); a client must use the documented form or cope
with a refusal. Strict by default: `GraphDouble(undocumented_forms=True)` (or
`double.undocumented_forms = True`) serves them as it always did.

    calendarView/delta on /users/{id}/calendar/... and /calendars/{cid}/...
        event-delta documents /users/{id}/calendarView/delta (the primary calendar)
    $filter on /users/{id}/calendar/events and /calendars/{cid}/events
        the extended-property $filter is documented on /users/{id}/events
    $expand on event collections (events, calendarView)
        singleValueExtendedProperties $expand is documented on single events

Refusals are 400 ErrorInvalidRequest, as Graph answers a path or option it does
not serve.
"""

from __future__ import annotations

from tests.graph.errors import GraphError
from tests.graph.graph import Context


def refuse(context: Context, what: str) -> None:
    """400, unless the double was told to serve undocumented forms."""
    if not context.state.undocumented_forms:
        raise GraphError(400, "ErrorInvalidRequest", f"Unsupported request: {what}.")


def check_collection_query(context: Context, calendar_scoped: bool) -> None:
    query = context.call.query
    if "$expand" in query:
        refuse(context, "$expand on an event collection")
    if calendar_scoped and "$filter" in query:
        refuse(context, "$filter on a calendar's event collection")


def check_delta_path(context: Context) -> None:
    segments = context.segments
    if segments[2].lower() != "calendarview":
        refuse(context, "calendarView/delta of a calendar other than /users/{id}/calendarView")

"""Prometheus metrics counted in the process. Labels are bounded sets: never a booking id,
a key or an address; a label's values are listed next to it.

The gauges read from the database (mirrors pending, outbox depth, ...) are not
here: syncd/ops/collector.py computes them at scrape time. README.md
("Metrics") lists every name; tests/ops checks the list against what is served.
`connector` labels carry the connector's kind (caldav, m365, memory).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

from syncd.errors import FailureScope, TransientError

# The text format would serve each counter's start time as a gauge of its own.
disable_created_metrics()  # type: ignore[no-untyped-call]

MIRROR_WRITES = Counter(
    "syncd_mirror_writes_total",
    "Calendar writes (create, update, delete) by connector kind and outcome",
    ["connector", "outcome"],
)
MIRROR_WRITE_SECONDS = Histogram(
    "syncd_mirror_write_seconds",
    "Time to converge one mirror against its calendar",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CALENDAR_PAUSES = Counter(
    "syncd_calendar_pauses_total",
    "Times a whole calendar was held back after an outage or refused credentials",
    ["connector"],
)
DEAD_LETTERS = Counter(
    "syncd_mirror_dead_letters_total",
    "Mirrors given up on after their last attempt or a permanent error",
    ["connector"],
)

REMOTE_THROTTLES = Counter(
    "syncd_remote_throttled_total",
    "Answers asking syncd to slow down (429, or 503 with Retry-After), by scope",
    ["connector", "scope"],  # scope: item (one request), calendar (the whole mailbox/server)
)
REMOTE_THROTTLE_WAIT_SECONDS = Counter(
    "syncd_remote_throttle_wait_seconds_total",
    "Seconds of Retry-After the servers asked for and syncd honoured",
    ["connector"],
)


def count_throttle(connector: str, error: TransientError) -> None:
    """Count a transient failure that came with a Retry-After (a throttle, not a crash)."""
    if error.retry_after is None:
        return
    scope = "calendar" if error.scope == FailureScope.CALENDAR else "item"
    REMOTE_THROTTLES.labels(connector, scope).inc()
    REMOTE_THROTTLE_WAIT_SECONDS.labels(connector).inc(error.retry_after)


WEBHOOK_ATTEMPTS = Counter(
    "syncd_webhook_attempts_total",
    "Webhook POSTs by outcome",
    ["outcome"],  # delivered, retry, failed
)

RECONCILE_UNREADABLE = Counter(
    "syncd_reconcile_unreadable_events_total",
    "Events on watched calendars set apart as unreadable (a series recurring too often, "
    "a date out of range, data that cannot be parsed), counted when first seen",
    ["connector"],
)
RECONCILE_PASSES = Counter(
    "syncd_reconcile_passes_total",
    "Passes over a calendar's remote changes, by outcome",
    ["connector", "outcome"],  # ok, resync (cursor refused: full listing), failed, unwatchable
)
RECONCILE_PASS_SECONDS = Histogram(
    "syncd_reconcile_pass_seconds",
    "Time one reconcile pass over one calendar took",
    ["connector"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RECONCILE_CHANGES = Counter(
    "syncd_reconcile_changes_total",
    "Remote changes read from calendars (delta, sync-collection)",
    ["connector"],
)
CONFLICTS_OPENED = Counter(
    "syncd_conflicts_opened_total",
    "Conflicts detected between bookings and calendars, by kind",
    ["kind"],  # moved, edited, deleted, missing, overlap
)
CONFLICTS_RESOLVED = Counter(
    "syncd_conflicts_resolved_total",
    "Conflicts resolved, by how",
    ["resolution"],  # booking_wins, calendar_wins, dismissed, cleared, automatic
)

MANAGE_ACTIONS = Counter(
    "syncd_manage_actions_total",
    "Customer self-service actions through the manage link, by action and outcome",
    # action: view, slots, reschedule, cancel, change_staff
    # outcome: ok, forbidden, cutoff, slot_taken, invalid, bad_link
    ["action", "outcome"],
)

HTTP_REQUEST_SECONDS = Histogram(
    "syncd_http_request_duration_seconds",
    "Time to answer an HTTP request (API and pages), by route template",
    # route: the route's template ("/api/v1/merchants/{merchant}"), or "unmatched";
    # method: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or other; status: 2xx..5xx
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

BINDING_AUTH_ERRORS = Counter(
    "syncd_binding_auth_errors_total",
    "Times a calendar binding went to state auth_error (credentials or permissions refused)",
    ["connector"],
)
GRAPH_REQUESTS = Counter(
    "syncd_graph_requests_total",
    "HTTP requests sent to Microsoft Graph",
    ["kind"],  # single (one request), batch (a JSON $batch of several)
)
GRAPH_NOT_SENT = Counter(
    "syncd_graph_not_sent_total",
    "Graph requests that could not leave (no connection from the pool, connecting failed)",
)
GRAPH_THROTTLED = Counter(
    "syncd_graph_throttled_total",
    "Graph answers (requests or batch items) asking syncd to slow down, by status",
    ["status"],  # 429, 503, 504
)
GRAPH_THROTTLE_WAIT = Counter(
    "syncd_graph_throttle_wait_seconds_total",
    "Seconds Graph requests waited for a mailbox's Retry-After (or backoff) to pass",
)
GRAPH_FALLBACKS = Counter(
    "syncd_graph_fallbacks_total",
    "Bindings switched to a documented request form after Graph refused an undocumented one",
    ["form"],  # delta: calendarView delta of a non-default calendar -> windowed listing
)
GRAPH_NOTIFICATIONS = Counter(
    "syncd_graph_notifications_total",
    "Change and lifecycle notifications from Microsoft Graph, by outcome",
    ["kind", "outcome"],  # kind: change, lifecycle; outcome: accepted, rejected (clientState)
)
GRAPH_SUBSCRIPTIONS = Counter(
    "syncd_graph_subscriptions_total",
    "Graph change-notification subscriptions created or renewed, by outcome",
    ["action", "outcome"],  # action: create, renew; outcome: ok, failed
)

"""Microsoft Graph's change and lifecycle notifications, read (the kind's push feed).

What Graph POSTs to the endpoints a subscription names
(concepts/change-notifications-delivery-webhooks, change-notifications-lifecycle-events):

    ?validationToken=...        while a subscription is being made: Graph waits (10 s at
                                most) for the token back as text/plain with 200
    {"value": [{"subscriptionId", "clientState", "changeType", "resource", ...}, ...]}
                                changes of the mailbox's events
    {"value": [{"subscriptionId", "clientState", "lifecycleEvent", ...}, ...]}
                                lifecycleEvent: subscriptionRemoved, missed,
                                reauthorizationRequired

Graph batches a few items per POST (a change notification without resource data
is under 1 KiB), so the caps leave real traffic far below them. Served at
`/push/m365/...`, and at `/graph/...`, where subscriptions made before still point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.push import (
    BadPushBodyError,
    Handshake,
    NoticeKind,
    PushBodyTooLargeError,
    PushFeed,
    PushNotice,
)

MAX_BODY_BYTES = 256 * 1024
MAX_ITEMS = 1000
MAX_TOKEN_LENGTH = 1024
MAX_SUBSCRIPTION_ID = 200  # the store's column; Graph's ids are GUIDs
LIFECYCLE_EVENTS = {
    "subscriptionRemoved": NoticeKind.REMOVED,
    "missed": NoticeKind.MISSED,
    "reauthorizationRequired": NoticeKind.REAUTHORIZE,
}


class GraphFeed(PushFeed):
    former_prefixes = ("/graph",)
    max_body_bytes = MAX_BODY_BYTES
    answer_within_seconds = 2.5  # Graph wants an answer within 3 s

    def handshake(self, query: Mapping[str, str]) -> Handshake | None:
        token = query.get("validationToken")
        if token is None:
            return None
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return Handshake(400, "bad validationToken")
        return Handshake(200, token)

    def read(self, body: bytes) -> list[PushNotice]:
        """The items of `{"value": [...]}`; `BadPushBodyError` if there is no such list."""
        try:
            data = json.loads(body)
        except ValueError:
            raise BadPushBodyError("not JSON") from None
        except RecursionError:
            raise BadPushBodyError("JSON nested too deeply") from None
        items = data.get("value") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BadPushBodyError('no "value" list')
        if len(items) > MAX_ITEMS:
            raise PushBodyTooLargeError(f"more than {MAX_ITEMS} items in one notification")
        return [_notice(item) for item in items]


def _notice(item: Any) -> PushNotice:
    if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
        return PushNotice("", None)  # names no subscription: refused like a wrong clientState
    client_state = item.get("clientState")
    return PushNotice(
        item["subscriptionId"][:MAX_SUBSCRIPTION_ID],
        client_state if isinstance(client_state, str) else None,
        _kind(item.get("lifecycleEvent")),
    )


def _kind(lifecycle_event: object) -> NoticeKind:
    if not isinstance(lifecycle_event, str):
        return NoticeKind.CHANGED
    return LIFECYCLE_EVENTS.get(lifecycle_event, NoticeKind.LIFECYCLE)


PUSH_FEED = GraphFeed()

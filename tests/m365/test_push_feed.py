"""Graph's notification POSTs read by the kind's push feed: the handshake, the items and
what each says, and the refusals (bad bodies 400, over the caps 413)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors import push_feed, push_feeds
from connectors.m365 import PUSH_FEED
from connectors.m365.push import MAX_ITEMS, MAX_TOKEN_LENGTH
from connectors.push import (
    BadPushBodyError,
    Endpoints,
    Handshake,
    NoticeKind,
    PushBodyTooLargeError,
    PushNotice,
)

SUBSCRIPTION = "7f0e6c1a-0000-4000-8000-000000000001"


def body(*items: Any) -> bytes:
    return json.dumps({"value": list(items)}).encode()


def item(**fields: Any) -> dict[str, Any]:
    return {"subscriptionId": SUBSCRIPTION, "clientState": "secret", "changeType": "updated",
            "resource": "Users/x/Events/y", **fields}


def test_the_kind_offers_its_feed_where_graph_posted_before_too() -> None:
    assert push_feed("m365") is PUSH_FEED
    assert push_feeds()["m365"] is PUSH_FEED
    assert push_feed("caldav") is None
    assert PUSH_FEED.paths == Endpoints("/notifications", "/lifecycle")
    assert PUSH_FEED.former_prefixes == ("/graph",)
    assert PUSH_FEED.max_body_bytes == 256 * 1024
    assert PUSH_FEED.answer_within_seconds < 3


def test_the_validation_token_is_echoed() -> None:
    token = "Validation: Testing client application reachability for subscription <&>"
    assert PUSH_FEED.handshake({"validationToken": token}) == Handshake(200, token)
    assert PUSH_FEED.handshake({"validationToken": ""}) == Handshake(400, "bad validationToken")
    too_long = {"validationToken": "t" * (MAX_TOKEN_LENGTH + 1)}
    assert PUSH_FEED.handshake(too_long) == Handshake(400, "bad validationToken")
    assert PUSH_FEED.handshake({}) is None


@pytest.mark.parametrize(
    ("lifecycle_event", "kind"),
    [(None, NoticeKind.CHANGED), (7, NoticeKind.CHANGED),
     ("subscriptionRemoved", NoticeKind.REMOVED), ("missed", NoticeKind.MISSED),
     ("reauthorizationRequired", NoticeKind.REAUTHORIZE),
     ("somethingNew", NoticeKind.LIFECYCLE)],
)
def test_what_each_item_says(lifecycle_event: object, kind: NoticeKind) -> None:
    fields = {} if lifecycle_event is None else {"lifecycleEvent": lifecycle_event}
    (notice,) = PUSH_FEED.read(body(item(**fields)))
    assert notice == PushNotice(SUBSCRIPTION, "secret", kind)
    assert notice.about_subscription is (kind != NoticeKind.CHANGED)


@pytest.mark.parametrize("client_state", [42, None, ["secret"], {"s": 1}])
def test_a_client_state_that_is_no_string_is_none(client_state: object) -> None:
    (notice,) = PUSH_FEED.read(body(item(clientState=client_state)))
    assert notice.client_state is None


@pytest.mark.parametrize("bad", ["not an object", {"clientState": "secret"},
                                 {"subscriptionId": 5, "clientState": "secret"}])
def test_an_item_naming_no_subscription_names_none(bad: object) -> None:
    assert PUSH_FEED.read(body(bad)) == [PushNotice("", None)]


def test_a_subscription_id_is_cut_to_the_stored_length() -> None:
    (notice,) = PUSH_FEED.read(body(item(subscriptionId="x" * 5000)))
    assert len(notice.subscription_id) == 200


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "not JSON"), (b'{"value": {}}', '"value" list'), (b"[]", '"value" list'),
     (b'{"value": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested")],
)
def test_a_body_that_is_no_notification_is_a_bad_request(raw: bytes, message: str) -> None:
    with pytest.raises(BadPushBodyError, match=message) as refused:
        PUSH_FEED.read(raw)
    assert refused.value.status_code == 400


def test_more_items_than_the_cap_are_too_large() -> None:
    assert len(PUSH_FEED.read(body(*[item()] * MAX_ITEMS))) == MAX_ITEMS
    with pytest.raises(PushBodyTooLargeError) as refused:
        PUSH_FEED.read(body(*[item()] * (MAX_ITEMS + 1)))
    assert refused.value.status_code == 413

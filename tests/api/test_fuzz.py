"""The admin API under hostile bodies and keys, drawn from its own request models.

Whatever comes in: never a 5xx, and a refused request (4xx) leaves every table
as it was. Each case runs on the same shop, so accepted requests build up the
state later cases meet (bookings to clone, services to book).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from pydantic import BaseModel

from syncd.notify.schemas import MerchantNotificationsIn, StaffNotificationsIn
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, BookingIn, CloneIn, MerchantIn, ServiceIn, StaffIn
from syncd.webhooks.subscriptions import WebhookIn
from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, snapshot
from tests.fuzzing import FUZZ, HOSTILE_TEXT, NEAR_TIMES, body_for


class _NoBody(BaseModel):
    pass


KEYS = st.sampled_from(["b1", "b2", "cut", "color", "alice", "bob", "work", "new"])
PATH_KEYS = KEYS | st.from_regex(r"[A-Za-z0-9._:~-]{1,12}", fullmatch=True) | HOSTILE_TEXT.filter(
    lambda key: key not in ("", ".", "..") and "/" not in key and "?" not in key)
HINTS = {
    "service": st.sampled_from(["cut", "color", "nope"]),
    "staff": st.sampled_from(["alice", "bob", "nope"]) | st.lists(
        st.sampled_from(["alice", "bob", "carol"]), max_size=3),
    "connector": st.sampled_from(["local", "nowhere"]),
    "start": NEAR_TIMES, "key": KEYS,
}
# (method, path under the merchant with {key}, the model of its body)
ENDPOINTS: list[tuple[str, str, type[BaseModel]]] = [
    ("PUT", "", MerchantIn),
    ("PUT", "/services/{key}", ServiceIn),
    ("PUT", "/staff/{key}", StaffIn),
    ("PUT", "/staff/alice/calendars/{key}", BindingIn),
    ("PUT", "/bookings/{key}", BookingIn),
    ("POST", "/bookings/{key}/clone", CloneIn),
    ("POST", "/bookings/{key}/cancel", _NoBody),
    ("PUT", "/webhooks/{key}", WebhookIn),
    ("PUT", "/notifications", MerchantNotificationsIn),
    ("PUT", "/staff/{key}/notifications", StaffNotificationsIn),
]
REQUESTS = st.sampled_from(ENDPOINTS).flatmap(lambda endpoint: st.tuples(
    st.just(endpoint[0]), st.just(endpoint[1]), PATH_KEYS,
    body_for(endpoint[2], HINTS) | st.sampled_from([[], "x", 7, None])))


def _send(client: ApiClient, method: str, path: str, key: str, body: Any) -> int:
    url = MERCHANT + path.format(key=quote(key, safe=""))
    return client.request(method, url, json=body).status_code


@pytest.mark.timeout(300)
def test_no_body_or_key_gets_a_5xx_or_leaves_anything_half_written(
    shop: ApiClient, runtime: Runtime
) -> None:
    @FUZZ
    @given(REQUESTS)
    def case(request: tuple[str, str, str, Any]) -> None:
        before = snapshot(runtime.engine)
        status = _send(shop, *request)
        event(f"{request[0]} {request[1]}: {status // 100}xx")  # --hypothesis-show-statistics
        assert status < 500, request
        if status >= 400:
            assert snapshot(runtime.engine) == before, (status, request)

    case()

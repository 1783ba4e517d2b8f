"""The manage pages and forms under hostile queries and form fields.

Whatever a customer (or anyone holding a link) sends: never a 5xx, and a
refused request (4xx) leaves every table as it was. Cases run one after the
other on the same shop, with and without a genuine form token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from syncd.web.limits import FailureLimiter
from tests.api.helpers import snapshot
from tests.fuzzing import FUZZ, HOSTILE_TEXT, JUNK
from tests.web.conftest import FREE_SLOT, START_A, Browsers, Shop, csrf_of

TIMES = st.sampled_from([FREE_SLOT, START_A, FREE_SLOT + timedelta(minutes=7),
                         FREE_SLOT + timedelta(days=400)]).map(lambda t: t.isoformat())
FIELD_VALUES = TIMES | st.dates().map(str) | st.sampled_from(["alice", "bob", "2030-03-08"]) \
    | HOSTILE_TEXT | JUNK.map(str)
FIELDS = st.dictionaries(st.sampled_from(["start", "staff", "date", "from", "csrf", "x"]),
                         FIELD_VALUES, max_size=4)
PAGES = st.sampled_from([("GET", "reschedule"), ("GET", "reschedule/review"),
                         ("POST", "reschedule"), ("POST", "cancel"), ("GET", "cancel"),
                         ("GET", "")])


def _request(browser: Any, token: str, page: tuple[str, str], fields: dict[str, str],
             genuine_csrf: bool) -> int:
    method, path = page
    base = f"/manage/{quote(token, safe='')}"
    url = f"{base}/{path}".rstrip("/")
    if method == "GET":
        return int(browser.get(url, params=fields).status_code)
    if genuine_csrf:
        form = browser.get(f"{base}/cancel")
        if form.status_code == 200:
            fields = fields | {"csrf": csrf_of(form.text)}
    return int(browser.post(url, data=fields, follow_redirects=False).status_code)


def stored_state(shop: Shop) -> dict[str, list[tuple[object, ...]]]:
    """Every table but the busy-time cache: a page refusing a time it just found taken
    on the staff calendar keeps what it read there (the next listing needs it)."""
    state = snapshot(shop.runtime.engine)
    del state["busy_cache"]
    return state


@pytest.mark.timeout(300)
def test_no_query_or_form_gets_a_5xx_or_leaves_anything_half_written(
    shop: Shop, browsers: Browsers
) -> None:
    browser = browsers(limiter=FailureLimiter(10**9))  # the limit is tested elsewhere
    tokens = st.sampled_from([shop.tokens["a"], shop.tokens["b"]]) | HOSTILE_TEXT.filter(
        lambda t: t not in ("", ".", ".."))

    @FUZZ
    @given(tokens, PAGES, FIELDS, st.booleans())
    def case(token: str, page: tuple[str, str], fields: dict[str, str], genuine: bool) -> None:
        before = stored_state(shop)
        status = _request(browser, token, page, fields, genuine)
        event(f"{page[0]} {page[1]}: {status}")  # --hypothesis-show-statistics
        assert status < 500, (token, page, fields)
        if status >= 400:
            assert stored_state(shop) == before, (status, page, fields)

    case()

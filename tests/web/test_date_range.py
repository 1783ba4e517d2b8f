"""The manage pages take days and times only from 1970 up to 2200: a customer (or anyone
holding a link) asking for the year 9999 or 1 gets a 400 page, never a 500."""

from __future__ import annotations

import pytest

from syncd.api import create_app
from tests.api.client import ApiClient
from tests.web.conftest import FREE_SLOT, Browsers, Shop
from tests.web.pages import assert_secure, confirm, review

FAR_DAYS = ["9999-12-31", "0001-01-01", "2200-01-01", "1969-12-31"]
FAR_TIMES = ["9999-12-31T23:50:00+00:00", "0001-01-01T00:30:00+01:00", "2200-06-01T10:00:00Z"]


@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_day_outside_the_range_is_a_bad_request(shop: Shop, day: str) -> None:
    with ApiClient(create_app(shop.runtime)) as browser:
        page = browser.get(f"/manage/{shop.tokens['a']}/reschedule", params={"date": day})
    assert page.status_code == 400
    assert_secure(page)


@pytest.mark.parametrize("start", FAR_TIMES)
def test_a_time_outside_the_range_is_a_bad_request(
    shop: Shop, browsers: Browsers, start: str
) -> None:
    token, browser = shop.tokens["a"], browsers()
    asked = browser.get(f"/manage/{token}/reschedule/review", params={"start": start})
    sent = confirm(browser, token, review(browser, token, FREE_SLOT), start)
    assert (asked.status_code, sent.status_code) == (400, 400)
    assert shop.booking("a").version == 1

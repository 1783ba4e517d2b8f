"""The manage pages against a customer who is not who they say they are, or is late.

Each test runs on SQLite and PostgreSQL. Nothing here may ever answer 500.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from syncd.api import create_app
from syncd.domain.bookings import BookingStatus
from syncd.manage.tokens import revoke_links
from syncd.store.models import Booking
from syncd.web.headers import CONTENT_SECURITY_POLICY
from syncd.web.limits import FailureLimiter
from tests.api.client import ApiClient
from tests.web.conftest import (
    FREE_SLOT,
    START_A,
    START_B,
    Browsers,
    Shop,
    csrf_of,
    hours_before,
)
from tests.web.pages import assert_secure, cancel_token, confirm, review

PERSONAL_DATA = "customer Ada Lovelace, +44 20 7946 0000"


def test_every_page_carries_the_security_headers(shop: Shop) -> None:
    token = shop.tokens["a"]
    with ApiClient(create_app(shop.runtime)) as browser:  # as `syncd run` serves them
        pages = [
            browser.get(f"/manage/{token}"),
            browser.get(f"/manage/{token}/cancel"),
            browser.get(f"/manage/{token}/reschedule?date=2030-03-40"),  # 400
            browser.post(f"/manage/{token}/cancel", data={"csrf": "x"}),  # 403
            browser.get("/manage/" + secrets.token_urlsafe(32)),  # 404
            browser.get("/manage/"),
            browser.get(f"/manage/{token}/no-such-page"),
            browser.put(f"/manage/{token}"),  # 405
            browser.request("HEAD", f"/manage/{token}"),
        ]
    assert [p.status_code for p in pages] == [200, 200, 400, 403, 404, 404, 404, 405, 200]
    for page in pages:
        assert_secure(page)
    assert set(pages[-2].headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_the_stylesheet_is_served_and_cacheable(shop: Shop, browsers: Browsers) -> None:
    browser = browsers()
    page = browser.get(f"/manage/{shop.tokens['a']}")
    href = page.text.split('rel="stylesheet" href="')[1].split('"')[0]
    assert href.startswith("/manage/static/manage.css?v=")
    sheet = browser.get(href)
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert "max-age" in sheet.headers["cache-control"]
    assert sheet.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "style=" not in page.text, "no inline styles: the CSP would block them"
    assert "<script" not in page.text


def test_details_show_the_booking_in_the_customers_zone(shop: Shop, browsers: Browsers) -> None:
    page = browsers().get(f"/manage/{shop.tokens['a']}")
    assert page.status_code == 200
    assert_secure(page)
    for expected in ("Haircut", "Alice", "Thursday, 7 March 2030, 10:00", "Europe/Berlin",
                     "30 minutes", "Confirmed", 'href="https://salon.example/book"'):
        assert expected in page.text, expected
    assert '<html lang="en">' in page.text


def test_bad_tokens_of_every_kind_get_one_identical_404(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with shop.runtime.sessions.begin() as session:
        revoke_links(session, session.get_one(Booking, shop.booking("b").id))
    asked = [
        secrets.token_urlsafe(32),  # guessed
        tampered,
        token.upper(),
        shop.tokens["b"],  # revoked
        "short",
        "x" * 300,
        "%00",
        "..%2F..",
    ]
    browser = browsers()
    answers = [browser.get(f"/manage/{value}") for value in asked]
    shop.clock.now = START_A + timedelta(minutes=31)  # after booking a's end
    answers.append(browser.get(f"/manage/{token}"))  # expired
    answers.append(browser.get(f"/manage/{token}/cancel"))
    for answer in answers:
        assert answer.status_code == 404
        assert_secure(answer)
        assert "set-cookie" not in answer.headers
    assert len({a.content for a in answers}) == 1, "every 404 page is byte for byte the same"
    assert len({tuple(sorted(a.headers.keys())) for a in answers}) == 1


def test_a_link_acts_only_on_its_own_booking(shop: Shop, browsers: Browsers) -> None:
    browser = browsers()
    a, b = shop.tokens["a"], shop.tokens["b"]
    page_b = browser.get(f"/manage/{b}")
    assert "Reference" in page_b.text
    assert ">b<" in page_b.text
    csrf_a = cancel_token(browser, a)
    refused = browser.post(f"/manage/{b}/cancel", data={"csrf": csrf_a})
    assert refused.status_code == 403, "a form token for one link is worthless for another"
    done = browser.post(f"/manage/{a}/cancel", data={"csrf": csrf_a, "booking": "b"})
    assert done.status_code == 303
    assert shop.booking("a").status == BookingStatus.CANCELLED
    assert shop.booking("b").status == BookingStatus.CONFIRMED
    assert shop.booking("b").start == START_B


def test_forms_without_a_valid_csrf_token_change_nothing(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    mine, other = browsers(), browsers()
    csrf = review(mine, token)
    others_csrf = review(other, token)
    attempts = [
        mine.post(f"/manage/{token}/reschedule", data={"start": FREE_SLOT.isoformat()}),
        confirm(mine, token, "wrong"),
        confirm(mine, token, csrf[:-2]),
        confirm(mine, token, others_csrf),  # another browser's token, with my cookie
        confirm(browsers(), token, csrf),  # my token from a browser without my cookie
        mine.post(f"/manage/{token}/cancel", data={}),
    ]
    for attempt in attempts:
        assert attempt.status_code == 403
        assert_secure(attempt)
    as_json = mine.post(f"/manage/{token}/cancel", json={"csrf": csrf})
    assert as_json.status_code == 403, "only a web form carries the token"
    booking = shop.booking("a")
    assert (booking.start, booking.status) == (START_A, BookingStatus.CONFIRMED)
    assert confirm(mine, token, csrf).status_code == 303, "the genuine form still works"


def test_the_cutoff_is_checked_when_confirming_not_when_the_page_was_shown(
    shop: Shop, browsers: Browsers
) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    cancel_csrf = cancel_token(browser, token)
    shop.clock.now = hours_before(START_A, 23)  # the 24 h cutoff passed meanwhile
    for answer in (confirm(browser, token, csrf),
                   browser.post(f"/manage/{token}/cancel", data={"csrf": cancel_csrf})):
        assert answer.status_code == 409
        assert_secure(answer)
        assert "Changes are possible until 24 hours before the start" in answer.text
        assert "030 1234 5678" in answer.text, "how to make changes by other means"
    booking = shop.booking("a")
    assert (booking.start, booking.status, booking.version) == (
        START_A, BookingStatus.CONFIRMED, 1)
    details = browser.get(f"/manage/{token}")
    assert "Changes are possible until 24 hours before the start" in details.text
    assert f"/manage/{token}/cancel" not in details.text


def test_bad_form_input_gets_a_400_page_never_a_500(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    base = f"/manage/{token}"
    answers = [
        browser.get(f"{base}/reschedule", params={"date": "2030-02-30"}),
        browser.get(f"{base}/reschedule", params={"date": "soon"}),
        browser.get(f"{base}/reschedule", params={"staff": "<script>"}),
        browser.get(f"{base}/reschedule", params={"staff": "zed"}),  # delivers nothing here
        browser.get(f"{base}/reschedule/review"),
        browser.get(f"{base}/reschedule/review", params={"start": "2030-03-08T10:00:00"}),
        browser.get(f"{base}/reschedule/review", params={"start": "tomorrow 10am"}),
        confirm(browser, token, csrf, start="2030-13-01T10:00:00+00:00"),
        confirm(browser, token, csrf, staff="zed"),
        browser.post(f"{base}/reschedule", content=b"csrf=" + b"x" * 10_000,
                     headers={"content-type": "application/x-www-form-urlencoded"}),
        browser.post(f"{base}/reschedule", content=b"\xff\xfe=1",
                     headers={"content-type": "application/x-www-form-urlencoded"}),
    ]
    for answer in answers:
        assert answer.status_code == 400, (answer.request.url, answer.text[:300])
        assert_secure(answer)
        assert "<h1>Please check your choice</h1>" in answer.text
    assert shop.booking("a").start == START_A


def test_repeated_failures_are_rate_limited(shop: Shop, browsers: Browsers) -> None:
    browser = browsers(limiter=FailureLimiter(3))
    for _ in range(3):
        assert browser.get("/manage/" + secrets.token_urlsafe(32)).status_code == 404
    blocked = browser.get("/manage/" + secrets.token_urlsafe(32))
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert_secure(blocked)
    assert "Too many attempts" in blocked.text


def test_a_limited_address_is_still_served_valid_links(shop: Shop, browsers: Browsers) -> None:
    """Customers behind one office address: a guesser there must not lock the others out."""
    limiter = FailureLimiter(3)
    guesser, customer = browsers(limiter=limiter), browsers(limiter=limiter)  # one address
    for _ in range(5):
        guesser.get("/manage/" + secrets.token_urlsafe(32))
    assert guesser.get("/manage/" + secrets.token_urlsafe(32)).status_code == 429
    token = shop.tokens["a"]
    page = customer.get(f"/manage/{token}")
    assert page.status_code == 200
    assert_secure(page)
    form = customer.get(f"/manage/{token}/cancel")
    assert form.status_code == 200
    done = customer.post(f"/manage/{token}/cancel", data={"csrf": csrf_of(form.text)},
                         follow_redirects=False)
    assert done.status_code == 303
    assert shop.booking("a").status == BookingStatus.CANCELLED
    assert customer.post(f"/manage/{token}/cancel", data={"csrf": "forged"}).status_code == 429


def test_a_booking_that_may_not_be_managed_says_how_to_change_it(
    shop: Shop, browsers: Browsers
) -> None:
    with shop.runtime.sessions.begin() as session:
        booking = session.scalars(select(Booking).where(Booking.key == "a")).one()
        booking.manage_rules = None  # as for bookings made before self-service existed
    token = shop.tokens["a"]
    browser = browsers()
    page = browser.get(f"/manage/{token}")
    assert page.status_code == 200
    assert "cannot be changed online" in page.text
    assert "030 1234 5678" in page.text
    assert f"/manage/{token}/cancel" not in page.text
    assert f"/manage/{token}/reschedule" not in page.text
    for path in ("cancel", "reschedule"):
        closed = browser.get(f"/manage/{token}/{path}")
        assert closed.status_code == 200
        assert "030 1234 5678" in closed.text
        assert "<form" not in closed.text


def test_an_unexpected_error_is_a_500_page_and_the_log_withholds_the_token(
    shop: Shop, browsers: Browsers, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from syncd.web import booking_pages

    def broken(*_: object) -> None:
        raise RuntimeError(PERSONAL_DATA)

    monkeypatch.setattr(booking_pages, "details_page", broken)
    token = shop.tokens["a"]
    with caplog.at_level(logging.ERROR, logger="syncd.web"):
        answer = browsers().get(f"/manage/{token}")
    assert answer.status_code == 500
    assert_secure(answer)
    assert "Something went wrong" in answer.text
    logged = caplog.text
    assert "/manage/<token>" in logged
    assert token not in logged
    assert PERSONAL_DATA not in logged

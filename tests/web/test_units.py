"""The manage pages' own machinery, without a booking: rate limit, CSRF, form parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse

from syncd.timetext import time_span
from syncd.web.csrf import CsrfGuard
from syncd.web.errors import BadInputError, redacted_path
from syncd.web.forms import _fields, optional_day, optional_staff, required_start
from syncd.web.headers import with_security_headers
from syncd.web.limits import FailureLimiter
from syncd.web.render import PageResponse
from tests.clocks import SteppedClock


def test_a_client_is_blocked_after_its_limit_until_the_oldest_failure_ages_out() -> None:
    clock = SteppedClock()
    limiter = FailureLimiter(3, clock=clock)
    for _ in range(2):
        limiter.record_failure("a")
        clock.now += 10
    assert limiter.retry_after("a") is None
    limiter.record_failure("a")  # third failure at t=1020; the first was at t=1000
    assert limiter.retry_after("a") == 40
    assert limiter.retry_after("b") is None, "another client is not affected"
    clock.now = 1060.5
    assert limiter.retry_after("a") is None, "the first failure is over a minute old"


def test_the_limiter_forgets_the_least_recent_clients_beyond_its_bound() -> None:
    limiter = FailureLimiter(1, max_clients=2, clock=SteppedClock())
    for client in ("a", "b", "c"):
        limiter.record_failure(client)
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("b") == 60
    assert limiter.retry_after("c") == 60


def _request(cookie: str | None = None) -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def test_a_form_token_holds_only_for_its_browser_and_its_link() -> None:
    guard = CsrfGuard(b"k" * 32, secure=False)
    token = guard.form_token("browser-1", "link-a")
    mine = _request("syncd_manage=browser-1")
    assert guard.verify(mine, "link-a", token)
    assert not guard.verify(mine, "link-b", token), "a token for one link is not for another"
    assert not guard.verify(_request("syncd_manage=browser-2"), "link-a", token)
    assert not guard.verify(_request(), "link-a", token), "no cookie, no form"
    assert not guard.verify(mine, "link-a", None)
    assert not guard.verify(mine, "link-a", token[:-1] + ("A" if token[-1] != "A" else "B"))
    other_key = CsrfGuard(b"x" * 32, secure=False)
    assert not other_key.verify(mine, "link-a", token)


def test_the_cookie_is_strict_http_only_and_secure_over_https() -> None:
    from starlette.responses import Response

    for secure, name in ((False, "syncd_manage"), (True, "__Host-syncd_manage")):
        guard = CsrfGuard(b"k" * 32, secure=secure)
        response = Response()
        guard.set_cookie(response, "id")
        header = response.headers["set-cookie"]
        assert header.startswith(f"{name}=id;")
        assert "HttpOnly" in header
        assert "SameSite=strict" in header
        assert "Path=/" in header
        assert ("Secure" in header) == secure


def test_form_values_are_parsed_or_refused_with_a_message() -> None:
    assert optional_day({"date": "2030-03-04"}) == date(2030, 3, 4)
    assert optional_day({}) is None
    start = required_start({"start": "2030-03-04T10:00:00+01:00"})
    assert start == datetime(2030, 3, 4, 9, tzinfo=UTC)
    assert start.utcoffset() == timedelta(hours=1)
    assert optional_staff({"staff": "alice"}) == "alice"
    assert optional_staff({"staff": ""}) is None
    for bad in ({"date": "2030-02-30"}, {"date": "tomorrow"}, {"date": "2030-3-4"}):
        with pytest.raises(BadInputError):
            optional_day(bad)
    for bad in ({}, {"start": "2030-03-04T10:00:00"}, {"start": "2030-03-04T25:00:00+01:00"},
                {"start": "x" * 5000}):
        with pytest.raises(BadInputError):
            required_start(bad)
    with pytest.raises(BadInputError):
        optional_staff({"staff": "<script>"})


def test_a_form_body_is_read_strictly() -> None:
    assert _fields(b"a=1&b=x%2By&a=2") == {"a": "1", "b": "x+y"}
    with pytest.raises(BadInputError):
        _fields("a=\u00e9".encode())
    with pytest.raises(BadInputError):
        _fields(b"&".join(b"f%d=1" % i for i in range(100)))


def test_logged_paths_withhold_the_token() -> None:
    scope = {"root_path": "/manage", "path": "/manage/SECRET/reschedule"}
    assert redacted_path(scope) == "/manage/<token>/reschedule"
    assert redacted_path({"root_path": "", "path": "/SECRET"}) == "/<token>"
    assert redacted_path({"root_path": "/manage", "path": "/manage/static/manage.css"}) == (
        "/manage/static/manage.css"
    )


def test_time_spans_read_naturally() -> None:
    zone = timezone(timedelta(hours=1))
    start = datetime(2030, 3, 4, 10, 0, tzinfo=zone)
    half_hour = start + timedelta(minutes=30)
    assert time_span(start, half_hour) == "Monday, 4 March 2030, 10:00\u201310:30"
    assert time_span(start, start + timedelta(days=1)) == (
        "Monday, 4 March 2030, 10:00 \u2013 Tuesday, 5 March 2030, 10:00"
    )


def test_security_headers_replace_their_names_and_keep_a_cache_control() -> None:
    given = [(b"content-type", b"text/html"), (b"X-Frame-Options", b"ALLOWALL"),
             (b"Cache-Control", b"public, max-age=86400")]
    headers = with_security_headers(given)
    assert headers[:2] == [given[0], given[2]]
    assert (b"x-frame-options", b"DENY") in headers
    assert [name for name, _ in headers].count(b"x-frame-options") == 1
    assert (b"cache-control", b"no-store") not in headers
    assert with_security_headers([])[0] == (b"cache-control", b"no-store")


@pytest.mark.parametrize("status", [200, 400, 404, 429, 500, 503])
@pytest.mark.parametrize("headers", [None, {"Retry-After": "3"}])
def test_a_page_response_has_the_headers_and_body_of_an_html_response(
    status: int, headers: dict[str, str] | None
) -> None:
    page = "<p>Tuesday, 4 March 2030, 10:00\N{EN DASH}10:30</p>"
    expected = HTMLResponse(page, status_code=status, headers=headers)
    made = PageResponse(page, status_code=status, headers=headers)
    assert (made.raw_headers, made.body) == (expected.raw_headers, expected.body)

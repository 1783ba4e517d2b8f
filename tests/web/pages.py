"""What the HTTP-level page tests share: header checks and the steps of a reschedule or cancel."""

from __future__ import annotations

from datetime import datetime

import httpx

from syncd.web.headers import CONTENT_SECURITY_POLICY
from tests.api.client import ApiClient
from tests.web.conftest import FREE_SLOT, csrf_of, slot_query

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
JUST_TAKEN = "that time was just taken"


def assert_secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert response.headers["content-type"].startswith("text/html")


def review(browser: ApiClient, token: str, start: datetime = FREE_SLOT,
           staff: str | None = None) -> str:
    """Load the review page of a slot and return its form token."""
    response = browser.get(f"/manage/{token}/reschedule/review", params=slot_query(start, staff))
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def confirm(browser: ApiClient, token: str, csrf: str, start: datetime | str = FREE_SLOT,
            **extra: str) -> httpx.Response:
    shown = start if isinstance(start, str) else start.isoformat()
    form = {"csrf": csrf, "start": shown, **extra}
    return browser.post(f"/manage/{token}/reschedule", data=form)


def cancel_token(browser: ApiClient, token: str) -> str:
    response = browser.get(f"/manage/{token}/cancel")
    assert response.status_code == 200, response.text
    return csrf_of(response.text)

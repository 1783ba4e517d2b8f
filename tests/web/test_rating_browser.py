"""A customer rates a visit in headless Chromium at phone width, without JavaScript, from the
rating request mail `syncd run` sent once the booking ended. Screenshots go to
test-output/screenshots/rating-phone/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.web.browser import Screenshots, browser, check_accessible_basics, tab_until
from tests.web.daemon import SyncdDaemon

__all__ = ["browser"]

CUSTOMER = "ada@example.org"
PHONE = {"width": 360, "height": 740}
RATING_LINK = re.compile(r"https?://\S+/manage/[A-Za-z0-9_-]+/rate")
EVERY_DAY = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[SyncdDaemon]:
    with SyncdDaemon(tmp_path, {"local": {"kind": "memory"}}) as running:
        yield running


def seed_ended_visit(daemon: SyncdDaemon) -> None:
    """A booking that ends two seconds from now; its service asks for a rating at the end."""
    daemon.put("/merchants/m1", {"name": "Salon One", "timezone": "Europe/Berlin"})
    daemon.put("/merchants/m1/staff/alice", {
        "name": "Alice", "timezone": "Europe/Berlin", "working_hours": EVERY_DAY})
    daemon.put("/merchants/m1/staff/alice/calendars/work",
               {"connector": "local", "calendar_id": "alice"})
    daemon.put("/merchants/m1/services/cut", {
        "name": "Haircut", "duration_minutes": 30, "staff": ["alice"],
        "rating_request_minutes_after": 0})
    end = datetime.now(UTC) + timedelta(seconds=2)
    daemon.put("/merchants/m1/bookings/b1", {
        "service": "cut", "staff": "alice", "start": (end - timedelta(minutes=30)).isoformat(),
        "end": end.isoformat(),
        "customer": {"name": "Ada", "email": CUSTOMER, "timezone": "Europe/London"}})


def rating_link(daemon: SyncdDaemon, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in daemon.messages_to(CUSTOMER):
            body = message.get_body(preferencelist=("plain",))
            match = RATING_LINK.search(str(body.get_content()) if body else "")
            if match:
                return match.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no rating request to {CUSTOMER} within {timeout}s")


def test_a_customer_rates_a_visit_on_a_phone(
    daemon: SyncdDaemon, browser: Browser, tmp_path: Path
) -> None:
    seed_ended_visit(daemon)
    link = rating_link(daemon)
    shots = Screenshots(tmp_path / "screenshots", "rating-phone")
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)  # type: ignore[arg-type]
    page = context.new_page()
    response = page.goto(link)
    assert response is not None
    assert response.status == 200
    assert "Haircut" in page.inner_text("main")
    check_accessible_basics(page)
    shots.take(page, "rate")
    page.get_by_label("4 stars", exact=False).check()
    page.get_by_label("Comment (optional)").fill("Lovely cut, thank you!")
    tab_until(page, "Send my rating")
    shots.take(page, "rate-filled")
    page.get_by_role("button", name="Send my rating").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you for your rating"
    assert "4 of 5 stars" in page.inner_text("main")
    check_accessible_basics(page)
    shots.take(page, "rated")
    page.get_by_role("link", name="Change my rating").click()
    assert page.get_by_label("4 stars", exact=False).is_checked()
    context.close()
    rated = daemon.api.get("/api/v1/merchants/m1/ratings").json()["items"]
    assert [(item["booking"], item["stars"]) for item in rated] == [("b1", 4)]

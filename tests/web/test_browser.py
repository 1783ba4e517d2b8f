"""A customer manages a booking in real headless Chromium, against `syncd run` and Radicale.

The manage link comes from the confirmation mail the daemon wrote; the
customer reschedules (to another day, time and staff member) through the
pages, and the staff calendars on Radicale follow within seconds; then the
customer cancels and the event is gone. The flow is walked on a desktop screen; every
page is also checked at phone width, and screenshotted at both
(test-output/screenshots/<width>/).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Response

from syncd.web.headers import CONTENT_SECURITY_POLICY
from tests.caldav_listing import ListedEvent, list_events
from tests.servers import RadicaleServer
from tests.web.browser import DESKTOP, BothWidths, browser, tab_until
from tests.web.daemon import SyncdDaemon

__all__ = ["browser"]

CUSTOMER = "ada@example.org"
LONDON, BERLIN = ZoneInfo("Europe/London"), ZoneInfo("Europe/Berlin")
EVERY_DAY = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CALENDAR_SECONDS = 5.0


@pytest.fixture
def calendars(own_radicale: RadicaleServer) -> RadicaleServer:
    """A server of the test's own, with the calendars "alice" and "bob"."""
    for name in ("alice", "bob"):
        own_radicale.create_collection(name)
    return own_radicale


@pytest.fixture
def daemon(tmp_path: Path, calendars: RadicaleServer) -> Iterator[SyncdDaemon]:
    with SyncdDaemon(tmp_path, {"dav": calendars.connector_settings()}) as running:
        yield running


def booking_start() -> datetime:
    """10:00 in Berlin, three days from now: well before any cutoff."""
    day = (datetime.now(BERLIN) + timedelta(days=3)).date()
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=BERLIN)


def seed_shop(daemon: SyncdDaemon, radicale: RadicaleServer, start: datetime) -> None:
    daemon.put("/merchants/m1", {
        "name": "Salon One", "timezone": "Europe/Berlin",
        "contact_text": "Please call us on 030 1234 5678.",
        "booking_page_url": "https://salon.example/book",
    })
    for key in ("alice", "bob"):
        daemon.put(f"/merchants/m1/staff/{key}", {
            "name": key.title(), "timezone": "Europe/Berlin", "working_hours": EVERY_DAY,
        })
        daemon.put(f"/merchants/m1/staff/{key}/calendars/work",
                   {"connector": "dav", "calendar_id": radicale.collection_path(key)})
    daemon.put("/merchants/m1/services/cut", {
        "name": "Haircut", "duration_minutes": 30, "location": "Main Street 1",
        "allow_change_staff": True, "staff": ["alice", "bob"], "manage_web_bookings": True,
    })
    daemon.put("/merchants/m1/bookings/b1", {
        "service": "cut", "staff": "alice", "start": start.isoformat(), "paid": True,
        "customer": {"name": "Ada", "email": CUSTOMER, "timezone": "Europe/London"},
    })


def events(radicale: RadicaleServer, name: str) -> list[ListedEvent]:
    return list_events(radicale, radicale.collection_path(name))


def wait_for(check: Callable[[], bool], what: str, timeout: float = CALENDAR_SECONDS) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


def check_headers(response: Response | None) -> None:
    assert response is not None
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def open_page(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, url
    check_headers(response)


def styled(page: Page) -> bool:
    """The stylesheet loaded under the CSP (a style rule of it is in effect)."""
    return bool(page.evaluate("() => getComputedStyle(document.body).margin === '0px'"))


def test_a_customer_reschedules_and_cancels_in_a_browser(
    daemon: SyncdDaemon, calendars: RadicaleServer, browser: Browser,
    tmp_path: Path,
) -> None:
    radicale = calendars
    start = booking_start()
    seed_shop(daemon, radicale, start)
    wait_for(lambda: len(events(radicale, "alice")) == 1, "the booking on Alice's calendar", 20)
    link = daemon.manage_link_for(CUSTOMER)
    shots = BothWidths(tmp_path / "screenshots", "{width}")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()

    # details, in the customer's own zone (London is an hour behind Berlin)
    open_page(page, link)
    assert styled(page)
    body = page.inner_text("main")
    for expected in ("Haircut", "Alice", "09:00", "Europe/London", "Main Street 1", "Confirmed"):
        assert expected in body, expected
    assert page.get_by_role("link", name="New booking").get_attribute("href") == (
        "https://salon.example/book"
    )
    shots.take(page, "details")

    # reschedule: the next day, 14:00 London, with Bob
    page.get_by_role("link", name="Reschedule").click()
    shots.take(page, "reschedule")
    new_day = start.astimezone(LONDON).date() + timedelta(days=1)
    page.get_by_label("Day", exact=True).select_option(new_day.isoformat())
    page.get_by_label("Staff member", exact=True).select_option("bob")
    page.get_by_role("button", name="Show times").click()
    assert "with Bob" in page.inner_text("form.pick-time legend")
    shots.take(page, "times")
    page.get_by_label("14:00", exact=True).check()
    page.get_by_role("button", name="Continue").click()

    # review: old and new side by side; the keyboard reaches Confirm
    summary = page.inner_text("main")
    for expected in ("09:00", "14:00", "Bob", "Alice"):
        assert expected in summary, expected
    tab_until(page, "Confirm new time")
    shots.take(page, "review")
    page.get_by_role("button", name="Confirm new time").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Your booking has been moved"
    assert page.url.endswith("/rescheduled")
    shots.take(page, "rescheduled", check=False)
    page.reload()  # Post/Redirect/Get: a reload shows the page again and changes nothing
    assert page.get_by_role("heading", level=1).inner_text() == "Your booking has been moved"

    new_start = datetime(new_day.year, new_day.month, new_day.day, 14, 0, tzinfo=LONDON)
    moved = wait_for(
        lambda: [e.start for e in events(radicale, "bob")] == [new_start.astimezone(UTC)]
        and events(radicale, "alice") == [],
        "the event moved to Bob's calendar",
    )

    # cancel: a confirmation step that mentions the payment, then done
    open_page(page, link)
    page.get_by_role("link", name="Cancel booking").click()
    assert "not refunded automatically" in page.inner_text("main")
    tab_until(page, "Yes, cancel this booking")
    shots.take(page, "cancel")
    page.get_by_role("button", name="Yes, cancel this booking").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Your booking is cancelled"
    shots.take(page, "cancelled", check=False)
    gone = wait_for(lambda: events(radicale, "bob") == [], "the event removed from Bob's calendar")

    # a link that opens nothing: the one 404 page, with the same headers
    missing = page.goto(link[:-4] + "AAAA")
    assert missing is not None
    assert missing.status == 404
    check_headers(missing)
    shots.take(page, "not-found")
    context.close()
    print(f"event moved {moved:.2f}s after Confirm, removed {gone:.2f}s after cancel")

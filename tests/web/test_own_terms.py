"""The booking's own terms on the pages: a staff-made booking's cutoff and actions, checked on
every POST; the reschedule pages open on the booking's day and never offer its own time."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from syncd.manage.tokens import issue_token
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant
from tests.web.conftest import START_A, Browsers, Shop, booking_in, csrf_of
from tests.web.pages import JUST_TAKEN, cancel_token, confirm

BERLIN = ZoneInfo("Europe/Berlin")  # the customers' zone
STAFF_START = START_A + timedelta(days=1)  # Friday 10:00 in Berlin


def staff_made(shop: Shop, **terms: object) -> str:
    """A booking staff made with the customer's own terms; its manage token."""
    with shop.runtime.sessions.begin() as session:
        booking, _ = put_booking(session, get_merchant(session, "m1"), "c", booking_in(
            "bob", STAFF_START, origin="staff", self_manage=True, **terms))
        return issue_token(session, booking)


def test_a_staff_made_booking_keeps_its_own_cutoff_on_every_post(
    shop: Shop, browsers: Browsers
) -> None:
    token = staff_made(shop, manage_cutoff_hours=2, manage_actions=["cancel"])
    browser = browsers()
    shop.clock.now = STAFF_START - timedelta(hours=3)  # the service's 24 hours have passed
    csrf = cancel_token(browser, token)
    moving = confirm(browser, token, csrf, STAFF_START + timedelta(hours=2))
    assert moving.status_code == 409, "rescheduling was not chosen for this booking"
    assert shop.booking("c").start == STAFF_START
    shop.clock.now = STAFF_START - timedelta(hours=1)  # the page was shown before its cutoff
    late = browser.post(f"/manage/{token}/cancel", data={"csrf": csrf})
    assert late.status_code == 409
    assert "until 2 hours before the start" in late.text
    assert shop.booking("c").status != "cancelled"
    shop.clock.now = STAFF_START - timedelta(hours=3)
    cancelled = browser.post(f"/manage/{token}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 303
    assert shop.booking("c").status == "cancelled"


def test_the_reschedule_page_opens_on_the_bookings_day_with_its_time_marked(
    shop: Shop, browsers: Browsers
) -> None:
    token = shop.tokens["a"]
    page = browsers().get(f"/manage/{token}/reschedule")
    assert page.status_code == 200
    assert '<option value="2030-03-07" selected>' in page.text, "Thursday, the booking's day"
    assert "(your booking now)" in page.text
    assert START_A.astimezone(BERLIN).isoformat() not in page.text, "not offered as a move"
    assert 'type="radio"' in page.text


def test_choosing_the_current_time_changes_nothing_and_says_so(
    shop: Shop, browsers: Browsers
) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    current = START_A.astimezone(BERLIN).isoformat()
    review = browser.get(f"/manage/{token}/reschedule/review", params={"start": current})
    assert review.status_code == 200
    assert "already your booking's time" in review.text
    assert JUST_TAKEN not in review.text.lower()
    csrf = csrf_of(browser.get(f"/manage/{token}/cancel").text)
    answer = confirm(browser, token, csrf, current, was=current)
    assert answer.status_code == 200
    assert "nothing has changed" in answer.text
    assert "has been moved" not in answer.text
    assert shop.booking("a").version == 1


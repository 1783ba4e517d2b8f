"""Rescheduling and cancelling through the pages: twice, at once, on a busy calendar.

Each test runs on SQLite and PostgreSQL. Nothing here may ever answer 500.
"""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from connectors.memory import MemoryCalendar
from syncd.store.models import Booking
from tests.web.conftest import (
    FREE_SLOT,
    NOW,
    START_A,
    START_B,
    Browsers,
    Shop,
    slot_query,
)
from tests.web.failing import StallingCalendar, StallingConnector, UnreadableConnector
from tests.web.pages import JUST_TAKEN, assert_secure, cancel_token, confirm, review


def test_confirming_twice_moves_the_booking_once(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    first, second = confirm(browser, token, csrf), confirm(browser, token, csrf)
    for answer in (first, second):
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/manage/{token}/rescheduled"
    booking = shop.booking("a")
    assert booking.start == FREE_SLOT
    assert booking.version == 2, "one change, not two"
    done = browser.get(f"/manage/{token}/rescheduled")
    assert "Your booking has been moved" in done.text
    assert "Friday, 8 March 2030, 11:00" in done.text


def test_cancelling_twice_cancels_once(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = cancel_token(browser, token)
    page = browser.get(f"/manage/{token}/cancel")
    assert "not refunded automatically" in page.text, "booking a was paid"
    answers = [browser.post(f"/manage/{token}/cancel", data={"csrf": csrf}) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert {a.headers["location"] for a in answers} == {f"/manage/{token}/cancelled"}
    assert shop.booking("a").version == 2
    done = browser.get(f"/manage/{token}/cancelled")
    assert "Your booking is cancelled" in done.text
    assert "not refunded automatically" in done.text
    assert browser.get(f"/manage/{token}/cancel").status_code == 303


def test_two_customers_confirming_one_slot_at_once_one_wins(
    shop: Shop, browsers: Browsers
) -> None:
    a, b = shop.tokens["a"], shop.tokens["b"]
    ada, bea = browsers(), browsers()
    forms = {a: (ada, review(ada, a)), b: (bea, review(bea, b))}
    answers: dict[str, httpx.Response] = {}
    ready = threading.Barrier(2)

    def go(token: str) -> None:
        browser, csrf = forms[token]
        ready.wait()
        answers[token] = confirm(browser, token, csrf)

    threads = [threading.Thread(target=go, args=(token,)) for token in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [303, 409]
    loser = next(answer for answer in answers.values() if answer.status_code == 409)
    assert JUST_TAKEN in loser.text.lower()
    assert 'type="radio"' in loser.text, "fresh slots are offered"
    assert FREE_SLOT.isoformat() not in loser.text
    with shop.runtime.sessions.begin() as session:
        at_slot = session.scalar(select(func.count()).where(Booking.start == FREE_SLOT))
    assert at_slot == 1


def test_a_slot_taken_since_the_list_was_shown_is_refused_with_fresh_slots(
    shop: Shop, browsers: Browsers
) -> None:
    a, b = shop.tokens["a"], shop.tokens["b"]
    ada, bea = browsers(), browsers()
    csrf_a, csrf_b = review(ada, a), review(bea, b)
    assert confirm(bea, b, csrf_b).status_code == 303
    late = confirm(ada, a, csrf_a)
    assert late.status_code == 409
    assert JUST_TAKEN in late.text.lower()
    assert shop.booking("a").start == START_A
    again = ada.get(f"/manage/{a}/reschedule/review", params=slot_query(FREE_SLOT))
    assert again.status_code == 409, "the review page does not offer a taken slot either"


def test_a_time_that_was_never_offered_is_not_booked(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    odd = FREE_SLOT + timedelta(minutes=7)  # not on the 15-minute grid
    for start in (odd, START_B, NOW + timedelta(minutes=5)):
        answer = confirm(browser, token, csrf, start)
        assert answer.status_code == 409, start
        assert JUST_TAKEN in answer.text.lower()
    assert shop.booking("a").start == START_A


def test_changing_staff_is_offered_and_done(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    page = browser.get(f"/manage/{token}/reschedule", params={"date": "2030-03-08"})
    assert '<option value="bob"' in page.text
    csrf = review(browser, token, FREE_SLOT, "bob")
    assert confirm(browser, token, csrf, staff="bob").status_code == 303
    with shop.runtime.sessions.begin() as session:
        booking = session.scalars(select(Booking).where(Booking.key == "a")).one()
        assert (booking.staff.key, booking.start) == ("bob", FREE_SLOT)


def test_later_days_are_a_link_away(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    first = browser.get(f"/manage/{token}/reschedule")
    later = re.search(r'<a href="([^"]+)">Later days</a>', first.text)
    assert later is not None
    assert "Earlier days" not in first.text
    following = browser.get(html.unescape(later.group(1)))
    assert following.status_code == 200
    assert "Earlier days" in following.text
    shown = re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', following.text)
    assert shown
    assert not set(shown) & set(re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', first.text))
    assert 'type="radio"' in following.text  # the times of its first day with free times


def test_an_unreadable_calendar_offers_no_slots_and_says_why(
    shop: Shop, browsers: Browsers
) -> None:
    shop.runtime.connectors = {"local": UnreadableConnector()}
    page = browsers().get(f"/manage/{shop.tokens['a']}/reschedule", params={"date": "2030-03-08"})
    assert page.status_code == 200
    assert "calendar cannot be read right now" in page.text
    assert 'type="radio"' not in page.text


@pytest.mark.parametrize("service_settings", [{"allow_change_staff": False}])
def test_another_staff_member_is_refused_where_not_allowed(shop: Shop, browsers: Browsers) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    page = browser.get(f"/manage/{token}/reschedule", params={"date": "2030-03-08"})
    assert page.status_code == 200
    assert '<option value="bob"' not in page.text
    asked = browser.get(f"/manage/{token}/reschedule", params={"staff": "bob"})
    assert asked.status_code == 409
    assert_secure(asked)
    assert "another staff member online is not offered" in asked.text
    csrf = review(browser, token)
    refused = confirm(browser, token, csrf, staff="bob")
    assert refused.status_code == 409
    assert "030 1234 5678" in refused.text
    booking = shop.booking("a")
    assert booking.start == START_A


def test_a_confirm_long_after_the_list_checks_the_calendar_again(
    shop: Shop, browsers: Browsers
) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    shop.clock.now = NOW + timedelta(minutes=20)  # the busy time read for the list is old now
    answer = confirm(browser, token, csrf)
    assert answer.status_code == 303, "still free: confirmed after reading the calendar again"
    assert shop.booking("a").start == FREE_SLOT


def test_an_event_put_on_the_staff_calendar_meanwhile_takes_the_slot(
    shop: Shop, browsers: Browsers
) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    calendar = shop.runtime.connectors["local"].calendar("alice-work")
    assert isinstance(calendar, MemoryCalendar)
    calendar.add_foreign_event("dentist", FREE_SLOT, FREE_SLOT + timedelta(hours=1), busy=True)
    shop.clock.now = NOW + timedelta(minutes=20)
    answer = confirm(browser, token, csrf)
    assert answer.status_code == 409
    assert JUST_TAKEN in answer.text.lower()
    assert FREE_SLOT.isoformat() not in answer.text
    assert shop.booking("a").start == START_A



def test_a_calendar_that_cannot_be_read_at_confirm_time_changes_nothing(
    shop: Shop, browsers: Browsers
) -> None:
    calendars = StallingConnector()
    shop.runtime.connectors = {"local": calendars}
    shop.runtime.settings.manage.confirm_timeout_seconds = 0.2
    token = shop.tokens["a"]
    browser = browsers()
    csrf = review(browser, token)
    calendar = calendars.calendar("alice-work")
    assert isinstance(calendar, StallingCalendar)
    calendar.stalled = True
    answer = confirm(browser, token, csrf)
    assert answer.status_code == 409
    assert "could not be checked" in answer.text
    assert "please try again" in answer.text.lower()
    assert JUST_TAKEN not in answer.text.lower()
    booking = shop.booking("a")
    assert (booking.start, booking.version) == (START_A, 1)

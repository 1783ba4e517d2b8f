"""The bookable window a fortnight at a time, in the customer's days; across a DST change."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from syncd.manage.day_pages import DAYS_PER_PAGE, day_page
from syncd.manage.slots import Interval

BERLIN = "Europe/Berlin"
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday
WINDOW = Interval(NOW, NOW + timedelta(days=60))


def test_without_a_day_the_first_fortnight_from_the_first_bookable_moment() -> None:
    page = day_page(WINDOW, BERLIN, None)
    assert page.first == date(2030, 3, 4)
    assert page.span == Interval(NOW, datetime(2030, 3, 17, 23, 0, tzinfo=UTC))  # CET midnight
    assert (page.earlier, page.later) == (None, date(2030, 3, 18))


def test_a_day_opens_the_fortnight_that_holds_it() -> None:
    page = day_page(WINDOW, BERLIN, date(2030, 3, 20))
    assert page.first == date(2030, 3, 18)
    assert (page.earlier, page.later) == (date(2030, 3, 4), date(2030, 4, 1))


def test_days_outside_the_window_open_its_first_or_last_fortnight() -> None:
    assert day_page(WINDOW, BERLIN, date(2029, 12, 1)).first == date(2030, 3, 4)
    last = day_page(WINDOW, BERLIN, date(2031, 1, 1))
    assert last.first == date(2030, 3, 4) + timedelta(days=4 * DAYS_PER_PAGE)
    assert last.later is None
    assert last.span.end == WINDOW.end


def test_fortnights_join_without_gap_or_overlap_across_the_clock_change() -> None:
    pages = [day_page(WINDOW, BERLIN, None)]
    while pages[-1].later is not None:
        pages.append(day_page(WINDOW, BERLIN, pages[-1].later))
    assert len(pages) == 5
    for before, after in itertools.pairwise(pages):
        assert before.span.end == after.span.start
        assert after.earlier == before.first
    # 2030-03-31 is the first day of summer time: its midnight is still CET, 23:00 UTC
    assert pages[2].first == date(2030, 4, 1)
    assert pages[2].span.start == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)  # CEST midnight
    assert (pages[0].span.start, pages[-1].span.end) == (WINDOW.start, WINDOW.end)


def test_an_empty_window_is_one_empty_page() -> None:
    page = day_page(Interval(NOW, NOW), BERLIN, date(2030, 5, 1))
    assert page.span.start == page.span.end
    assert (page.earlier, page.later) == (None, None)

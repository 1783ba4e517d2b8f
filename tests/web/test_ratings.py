"""Ratings end to end over HTTP: the request mail after the booking ends, the rating page, the
stored rating in the API, the `booking.rated` webhook and the merchant's notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from syncd.api import create_app
from syncd.domain.bookings import BookingStatus
from syncd.manage.rating_models import BookingRating
from syncd.notify.models import OutboxMessage
from syncd.notify.preferences import put_merchant_settings
from syncd.notify.reminders import ReminderRules, promote_due
from syncd.notify.schemas import MerchantNotificationsIn
from syncd.notify.sealed import LinkSeal
from syncd.store.bookings import change_booking
from syncd.store.catalog import get_merchant
from syncd.store.changes import Actor
from syncd.store.models import Booking
from syncd.webhooks.models import WebhookDelivery
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from tests.api.client import ApiClient
from tests.api.helpers import API_KEY, AUTH
from tests.web.conftest import START_A, Browsers, Shop, csrf_of

pytestmark = pytest.mark.parametrize(
    "service_settings", [{"rating_request_minutes_after": 60}])
RULES = ReminderRules(grace=timedelta(minutes=30), follow_ups=False)
END_A = START_A + timedelta(minutes=30)
ASKED = END_A + timedelta(minutes=61)


def listen(shop: Shop) -> None:
    """The merchant wants notices at an address; the platform subscribed to booking.rated."""
    with shop.runtime.sessions.begin() as session:
        merchant = get_merchant(session, "m1")
        put_merchant_settings(session, merchant,
                              MerchantNotificationsIn(addresses=["owner@salon.example"]))
        upsert_subscription(session, merchant, "platform", WebhookIn(
            url="https://platform.example/hooks", events=["booking.rated"]))


def rating_requests(shop: Shop) -> dict[str, str]:
    """Booking key → the rating link's path, of the requests queued by ASKED."""
    with shop.runtime.sessions.begin() as session:
        promote_due(session, ASKED, RULES)
        rows = session.execute(
            select(Booking.key, OutboxMessage.manage_link).join(Booking)
            .where(OutboxMessage.kind == "rating_request")).all()
        seal = LinkSeal(session.manage.secret())
    return {key: str(seal.open(sealed)).removeprefix("http://testserver") for key, sealed in rows}


def kinds_sent(shop: Shop) -> tuple[list[str], list[str]]:
    with shop.runtime.sessions.begin() as session:
        mails = list(session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))
        hooks = list(session.scalars(select(WebhookDelivery.event_type)))
    return mails, hooks


def stored_stars(shop: Shop) -> int | None:
    with shop.runtime.sessions.begin() as session:
        return session.scalar(select(BookingRating.stars))


def cancel_b(shop: Shop) -> None:
    with shop.runtime.sessions.begin() as session:
        booking = session.scalars(select(Booking).where(Booking.key == "b")).one()
        change_booking(session, booking, {"status": BookingStatus.CANCELLED}, Actor.MERCHANT)


def test_a_customer_rates_a_visit_and_may_change_it_for_a_while(
    shop: Shop, browsers: Browsers
) -> None:
    listen(shop)
    cancel_b(shop)
    links = rating_requests(shop)
    assert list(links) == ["a"], "one request, and none for the cancelled booking"
    link = links["a"]
    browser = browsers()
    shop.clock.now = END_A - timedelta(minutes=1)
    assert browser.get(link).status_code == 404, "not before the booking has ended"
    shop.clock.now = ASKED
    form = browser.get(link)
    assert form.status_code == 200
    assert 'type="radio"' in form.text
    assert '<label for="comment">' in form.text
    csrf = csrf_of(form.text)
    given = browser.post(link, data={"csrf": csrf, "stars": "4", "comment": "Lovely cut"})
    assert given.status_code == 303
    done = browser.get(given.headers["location"])
    assert "4 of 5 stars" in done.text
    assert "Lovely cut" in done.text
    changed = browser.post(link, data={"csrf": csrf, "stars": "5", "comment": "Lovely cut"})
    assert changed.status_code == 303
    assert stored_stars(shop) == 5
    mails, hooks = kinds_sent(shop)
    assert mails.count("rating_notice") == 2
    assert hooks == ["booking.rated", "booking.rated"]
    shop.clock.now = ASKED + timedelta(hours=73)
    late = browser.post(link, data={"csrf": csrf, "stars": "1"})
    assert late.status_code == 409
    assert "can no longer be changed" in late.text
    assert stored_stars(shop) == 5


def test_rating_links_follow_the_manage_links_rules(shop: Shop, browsers: Browsers) -> None:
    link = rating_requests(shop)["a"]
    token = link.split("/")[2]
    browser = browsers()
    shop.clock.now = ASKED
    assert browser.get(f"/manage/{token}").status_code == 404, "not a manage link"
    assert browser.get(f"/manage/{shop.tokens['a']}/rate").status_code == 404
    assert browser.get(f"/manage/{token[:-2]}AA/rate").status_code == 404
    csrf = csrf_of(browser.get(link).text)
    bad_forms = ({"stars": "6"}, {"stars": ""}, {"stars": "3", "comment": "x" * 2001},
                 {"stars": "3", "comment": "a\x00b"})  # no database keeps a NUL
    for bad in bad_forms:
        assert browser.post(link, data={"csrf": csrf, **bad}).status_code == 400
    assert browser.post(link, data={"csrf": "forged", "stars": "3"}).status_code == 403
    assert stored_stars(shop) is None
    shop.clock.now = END_A + timedelta(days=31)
    assert browser.get(link).status_code == 404, "rating links work for 30 days"


def test_the_rating_is_in_the_booking_json_and_the_ratings_list(
    shop: Shop, browsers: Browsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = rating_requests(shop)["a"]
    browser = browsers()
    shop.clock.now = ASKED
    csrf = csrf_of(browser.get(link).text)
    assert browser.post(link, data={"csrf": csrf, "stars": "3", "comment": "Fine"}).is_redirect
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    with ApiClient(create_app(shop.runtime), headers=AUTH) as api:
        booking = api.get("/api/v1/merchants/m1/bookings/a").json()
        assert (booking["rating"]["stars"], booking["rating"]["comment"]) == (3, "Fine")
        assert api.get("/api/v1/merchants/m1/bookings/b").json()["rating"] is None
        listed = api.get("/api/v1/merchants/m1/ratings").json()
        assert [(i["booking"], i["stars"]) for i in listed["items"]] == [("a", 3)]
        assert listed["next_cursor"] is None

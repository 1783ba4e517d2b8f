"""The manage link's token: one booking, hashed at rest, the same answer for every failure."""

from __future__ import annotations

import hmac
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from syncd.config.manage import ManageSettings
from syncd.errors import NotFound
from syncd.manage import service, tokens
from syncd.manage.tokens import find_booking, issue_token, manage_link, revoke_links, token_hash
from syncd.notify.models import OutboxMessage
from syncd.notify.sealed import LinkSeal
from syncd.runtime import Runtime
from syncd.store.bookings import cancel_booking
from syncd.store.catalog import get_merchant
from tests.manage import shop
from tests.manage.shop import NOW, at, book


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    with runtime.sessions.begin() as session:
        shop.seed(session)
    return runtime


def test_a_token_opens_its_booking_and_is_stored_only_hashed(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        _booking, token = book(session, "b1")
    assert len(token) >= 43  # 256 random bits, base64url
    with seeded.sessions.begin() as session:
        found = find_booking(session, token, NOW)
        assert found is not None
        assert found.key == "b1"
        stored = [row[0] for row in session.execute(text("SELECT token_hash FROM manage_tokens"))]
        assert token_hash(token) in stored
        assert token not in stored


def test_every_wrong_token_finds_nothing(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        _, token = book(session, "b1")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    wrong = [flipped, token[:-1], token + "x", "", " " * 43, token.upper(), "../" + token[3:],
             token_hash(token), "é" * 43]
    with seeded.sessions.begin() as session:
        for candidate in wrong:
            assert find_booking(session, candidate, NOW) is None, candidate
            with pytest.raises(NotFound) as caught:
                service.booking_page(session, candidate, NOW)
            assert str(caught.value) == "manage link"  # one answer for every reason


def test_a_link_expires_at_the_bookings_end(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        booking, token = book(session, "b1")
        end = booking.end
    with seeded.sessions.begin() as session:
        assert find_booking(session, token, end - timedelta(seconds=1)) is not None
        assert find_booking(session, token, end) is None
        with pytest.raises(NotFound):
            service.booking_page(session, token, end)


def test_a_cancelled_bookings_link_shows_it_until_its_end(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        _, token = book(session, "b1")
        cancel_booking(session, get_merchant(session, shop.MERCHANT), "b1")
    with seeded.sessions.begin() as session:
        assert service.booking_page(session, token, NOW).status == "cancelled"
        assert find_booking(session, token, at(1)) is None


def test_revoked_links_stop_working_and_new_ones_work(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        booking, first = book(session, "b1")
        second = issue_token(session, booking)
    with seeded.sessions.begin() as session:
        booking = find_booking(session, first, NOW)
        assert booking is not None
        assert revoke_links(session, booking) == 3  # the confirmation mail's and these two
    with seeded.sessions.begin() as session:
        assert find_booking(session, first, NOW) is None
        assert find_booking(session, second, NOW) is None
        assert revoke_links(session, booking) == 0
        third = issue_token(session, booking)
    with seeded.sessions.begin() as session:
        assert find_booking(session, third, NOW) is not None


def test_a_link_for_one_booking_never_acts_on_another(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        _, token_one = book(session, "b1")
        _, token_two = book(session, "b2", at(2))
    with seeded.sessions.begin() as session:
        service.cancel(session, token_one, NOW)
    with seeded.sessions.begin() as session:
        assert service.booking_page(session, token_one, NOW).status == "cancelled"
        assert service.booking_page(session, token_two, NOW).status == "confirmed"
        assert service.booking_page(session, token_two, NOW).booking_key == "b2"


def test_the_comparison_is_constant_time(seeded: Runtime, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    compared: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    with seeded.sessions.begin() as session:
        _, token = book(session, "b1")
        assert find_booking(session, token, NOW) is not None
    assert compared == [(token_hash(token), token_hash(token))]


def test_the_confirmation_mail_carries_a_working_link(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        book(session, "b1")
        sealed = session.scalars(
            select(OutboxMessage.manage_link).where(OutboxMessage.kind == "confirmation")
        ).one()
    url = LinkSeal(None).open(sealed)
    assert url is not None
    assert url.startswith("https://book.example/manage/")
    with seeded.sessions.begin() as session:
        found = find_booking(session, url.rsplit("/", 1)[1], NOW)
        assert found is not None
        assert found.key == "b1"


def test_no_link_where_managing_is_not_allowed(seeded: Runtime) -> None:
    with seeded.sessions.begin() as session:
        staff_made, _ = book(session, "b1", origin="staff")
        allowed, _ = book(session, "b2", at(1), origin="staff", self_manage=True)
        assert manage_link(session, staff_made) is None
        assert manage_link(session, allowed) is not None
        links = session.scalars(
            select(OutboxMessage.manage_link).where(OutboxMessage.kind == "confirmation")
            .order_by(OutboxMessage.id)
        ).all()
    assert links[0] is None  # the mail shows the contact text instead
    assert links[1] is not None


def test_no_link_without_a_public_address(seeded: Runtime) -> None:
    seeded.sessions.configure(manage=ManageSettings())  # no public_url
    with seeded.sessions.begin() as session:
        booking, _ = book(session, "b1")
        assert manage_link(session, booking) is None

"""Staff change a mirrored event by hand: what each rule makes of it, on every service."""

from __future__ import annotations

import pytest

from tests.reconcile.shop import HOUR, OWNER, START, Shop

pytestmark = pytest.mark.anyio

MOVED = (START + 2 * HOUR, START + 3 * HOUR)


async def booked(shop: Shop, rule: str) -> None:
    shop.seed(rule)
    shop.book("b1")
    await shop.settle()
    assert await shop.event_times("b1") == (START, START + HOUR)


async def test_a_move_is_put_back_when_the_booking_wins(shop: Shop) -> None:
    await booked(shop, "booking_wins")
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert await shop.event_times("b1") == (START, START + HOUR)
    assert (shop.booking("b1").start, shop.booking("b1").version) == (START, 1)
    (history,) = shop.conflicts()
    assert (history.kind, history.status, history.resolution) == ("moved", "resolved",
                                                                   "booking_wins")
    assert history.calendar_side["start"] == MOVED[0].isoformat()
    assert "conflict.detected" not in shop.webhook_types()


async def test_a_move_reschedules_when_the_calendar_wins(shop: Shop) -> None:
    await booked(shop, "calendar_wins")
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    booking = shop.booking("b1")
    assert (booking.start, booking.end) == MOVED
    assert booking.sequence == 1
    assert await shop.event_times("b1") == MOVED
    assert ("rescheduled", "customer") in shop.messages()
    assert shop.webhook_types()[-1] == "booking.rescheduled"
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("moved", "calendar_wins")


async def test_a_move_is_flagged_and_clears_when_moved_back(shop: Shop) -> None:
    await booked(shop, "flag")
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert shop.booking("b1").start == START
    assert await shop.event_times("b1") == MOVED
    (conflict,) = shop.open_conflicts()
    assert conflict.kind == "moved"
    assert conflict.booking_side["start"] == START.isoformat()
    assert conflict.calendar_side["start"] == MOVED[0].isoformat()
    notices = [m for m in shop.messages() if m[0] == "conflict_notice"]
    assert notices == [("conflict_notice", "merchant"), ("conflict_notice", "staff")]
    assert shop.webhook_types()[-1] == "conflict.detected"

    await shop.watch_again()  # the same drift seen again is the same conflict
    assert [c.id for c in shop.open_conflicts()] == [conflict.id]
    assert len([m for m in shop.messages() if m[0] == "conflict_notice"]) == 2

    await shop.hands.move(shop.calendar_id, shop.href("b1"), START, START + HOUR)
    await shop.watch_again()
    (closed,) = shop.conflicts()
    assert (closed.status, closed.resolution) == ("resolved", "cleared")
    assert closed.reason == "the event shows the booking again"
    assert shop.webhook_types()[-1] == "conflict.resolved"


async def test_a_deletion_is_undone_when_the_booking_wins(shop: Shop) -> None:
    await booked(shop, "booking_wins")
    await shop.hands.delete(shop.calendar_id, shop.href("b1"))
    await shop.watch_again()
    assert await shop.event_times("b1") == (START, START + HOUR)
    (history,) = shop.conflicts()
    assert (history.kind, history.resolution) == ("deleted", "booking_wins")


@pytest.mark.parametrize("rule", ["calendar_wins", "flag"])
async def test_a_deletion_never_cancels_the_booking(shop: Shop, rule: str) -> None:
    await booked(shop, rule)
    await shop.hands.delete(shop.calendar_id, shop.href("b1"))
    await shop.watch_again()
    assert shop.booking("b1").status == "confirmed"
    assert await shop.event_times("b1") is None
    (conflict,) = shop.open_conflicts()
    assert (conflict.kind, conflict.rule) == ("deleted", rule)
    assert conflict.calendar_side["present"] is False
    assert ("conflict_notice", "merchant") in shop.messages()
    assert ("cancelled", "customer") not in shop.messages()
    await shop.watch_again()  # nothing more happens on later passes
    assert len(shop.conflicts()) == 1
    assert await shop.event_times("b1") is None


async def test_a_services_rule_overrides_the_merchants(shop: Shop) -> None:
    shop.seed("booking_wins", service_rule="flag")
    shop.book("b1")
    await shop.settle()
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    await shop.watch_again()
    assert await shop.event_times("b1") == MOVED
    assert [c.rule for c in shop.open_conflicts()] == ["flag"]


async def test_the_merchant_is_told_at_their_address(shop: Shop) -> None:
    await booked(shop, "flag")
    await shop.hands.delete(shop.calendar_id, shop.href("b1"))
    await shop.watch_again()
    from sqlalchemy import select

    from syncd.notify.models import OutboxMessage
    with shop.runtime.sessions.begin() as session:
        notice = session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "conflict_notice", OutboxMessage.audience == "merchant")).one()
        assert notice.to_address == OWNER
        assert notice.payload["conflict"]["kind"] == "deleted"

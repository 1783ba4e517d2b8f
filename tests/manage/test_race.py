"""Two customers confirming the same slot at once: exactly one gets it, on both backends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.domain.bookings import BookingStatus
from syncd.manage import availability, service
from syncd.manage.errors import SlotTaken
from syncd.runtime import Runtime
from syncd.store.models import Booking
from tests.dbs import backend_of
from tests.manage import shop
from tests.manage.shop import NOW, at, book

CUSTOMERS = 4
TARGET = at(4)  # Wednesday 14:00 in Berlin, free


def _slow_down_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each confirmation between reading the other bookings and writing its own."""
    original: Callable[..., Any] = availability.booking_blocks

    def slow(*args: Any) -> Any:
        found = original(*args)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(availability, "booking_blocks", slow)


def _confirm_at_once(runtime: Runtime, tokens: list[str]) -> list[str]:
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []

    def confirm(token: str) -> None:
        barrier.wait()
        try:
            with runtime.sessions.begin() as session:
                service.reschedule(session, token, TARGET, None, NOW)
            outcomes.append("moved")
        except SlotTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=confirm, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def _seed(runtime: Runtime) -> list[str]:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        tokens = [book(session, f"b{i}", at(i * 0.5))[1] for i in range(CUSTOMERS)]
    for token in tokens:  # each customer looked at the slots first
        asyncio.run(service.slot_list(runtime, token, None, None, NOW))
    return tokens


def _at_target(session: Session) -> list[str]:
    return list(session.scalars(select(Booking.key).where(
        Booking.start == TARGET, Booking.status != BookingStatus.CANCELLED)))


def test_exactly_one_of_simultaneous_confirmations_wins(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = _seed(runtime)
    _slow_down_the_check(monkeypatch)
    assert _confirm_at_once(runtime, tokens) == ["moved"] + ["taken"] * (CUSTOMERS - 1)
    with runtime.sessions.begin() as session:
        assert len(_at_target(session)) == 1


def test_without_the_staff_lock_postgresql_would_double_book(
    runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above is real: take the lock away and PostgreSQL lets every one through."""
    tokens = _seed(runtime)
    _slow_down_the_check(monkeypatch)
    monkeypatch.setattr(service, "_lock_staff", lambda session, staff: None)
    outcomes = _confirm_at_once(runtime, tokens[:2])
    with runtime.sessions.begin() as session:
        moved = len(_at_target(session))
    if backend_of(database_url) == "sqlite":
        assert (outcomes, moved) == (["moved", "taken"], 1)  # BEGIN IMMEDIATE serialises writers
    else:
        assert (outcomes, moved) == (["moved", "moved"], 2)


def test_target_is_a_free_slot(runtime: Runtime) -> None:
    tokens = _seed(runtime)
    listing = asyncio.run(service.slot_list(runtime, tokens[0], TARGET.date(), None, NOW))
    assert TARGET in listing.slots
    assert isinstance(TARGET, datetime)

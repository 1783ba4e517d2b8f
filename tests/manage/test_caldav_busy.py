"""Busy time read from a real CalDAV server (Radicale) keeps those times out of the slots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from syncd.config import Settings
from syncd.manage import service
from syncd.runtime import Runtime
from syncd.schemas import BindingIn
from syncd.store.catalog import get_in_merchant, get_merchant, upsert_binding
from syncd.store.models import Staff
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.manage import shop
from tests.manage.shop import NOW, book
from tests.servers import RadicaleServer

DENTIST = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:dentist-1
DTSTAMP:20300101T000000Z
DTSTART;TZID=Europe/Berlin:20300306T140000
DTEND;TZID=Europe/Berlin:20300306T150000
SUMMARY:Dentist
END:VEVENT
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
END:VTIMEZONE
END:VCALENDAR
"""


@pytest.fixture
def dav_runtime(database_url: str, radicale: RadicaleServer, tmp_path: Path
                ) -> Iterator[Runtime]:
    settings = Settings.model_validate({
        "database": {"url": database_url},
        "manage": {"public_url": "https://book.example/"},
        "connectors": {"local": {"kind": "memory"}, "dav": radicale.connector_settings()},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    asyncio.run(runtime.aclose_connectors())
    runtime.close()


def test_a_caldav_event_blocks_its_time(dav_runtime: Runtime, radicale: RadicaleServer,
                                        tmp_path: Path) -> None:
    collection = radicale.create_collection(f"alice-{tmp_path.name}")
    with radicale.http_client() as client:
        put = client.put(f"{collection}dentist-1.ics", content=DENTIST.replace("\n", "\r\n"),
                         headers={"Content-Type": "text/calendar"})
        assert put.status_code in (201, 204)
    with dav_runtime.sessions.begin() as session:
        shop.seed(session)
        alice = get_in_merchant(session, Staff, get_merchant(session, shop.MERCHANT), "alice")
        upsert_binding(session, alice, "dav", BindingIn(connector="dav", calendar_id=collection),
                       {"dav", "local"})
        _, token = book(session, "b1")

    async def listing() -> list[str]:
        try:
            found = await service.slot_list(dav_runtime, token, date(2030, 3, 6), None, NOW)
        finally:
            await dav_runtime.aclose_connectors()
        assert not found.busy_unavailable
        return [s.astimezone(shop.zone("Europe/Berlin")).strftime("%H:%M") for s in found.slots]

    shown = asyncio.run(listing())
    assert "13:00" in shown
    assert "15:00" in shown
    assert not {"13:30", "14:00", "14:30"} & set(shown)  # 13:30 + 30 min + buffer reaches 14:10

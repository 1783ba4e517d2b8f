"""A confirmation reads the staff calendar again, on Radicale and on the Graph double: an event
put there a moment before the customer confirms takes the slot, whatever the listing stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.caldav import Settings as DavSettings
from connectors.caldav import build as build_dav
from connectors.memory import MemoryConnector
from syncd.notify.models import OutboxMessage
from syncd.runtime import Runtime
from syncd.schemas import BindingIn
from syncd.store.catalog import get_in_merchant, get_merchant, upsert_binding
from syncd.store.models import Staff
from tests.contract.harness import BERLIN, ForeignEvent, foreign_vcalendar
from tests.graph import GraphDouble
from tests.m365.support import m365_connector, new_mailbox
from tests.servers import RadicaleServer
from tests.web.conftest import FREE_SLOT, START_A, Browsers, Shop
from tests.web.pages import JUST_TAKEN, confirm, review

AddEvent = Callable[[datetime, datetime], None]


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


def on_radicale(shop: Shop, radicale: RadicaleServer, name: str) -> AddEvent:
    collection = radicale.create_collection(name)
    settings = DavSettings.model_validate(radicale.connector_settings())
    bind_alice(shop, "dav", build_dav(settings), collection)

    def add(start: datetime, end: datetime) -> None:
        event = ForeignEvent("dentist", start.astimezone(BERLIN), end.astimezone(BERLIN))
        text = foreign_vcalendar(event).replace("\n", "\r\n")
        with radicale.http_client() as client:
            put = client.put(f"{collection}dentist.ics", content=text,
                             headers={"Content-Type": "text/calendar"})
            assert put.status_code in (201, 204)

    return add


def on_graph(shop: Shop, double: GraphDouble, directory: Path) -> AddEvent:
    mailbox = new_mailbox(double)
    bind_alice(shop, "graph", m365_connector(double, directory=directory), mailbox)

    def add(start: datetime, end: datetime) -> None:
        double.add_foreign_event(mailbox, "Dentist", start, end, show_as="busy")

    return add


def bind_alice(shop: Shop, name: str, connector: object, calendar_id: str) -> None:
    shop.runtime.connectors = {"local": MemoryConnector(), name: connector}  # type: ignore[dict-item]
    with shop.runtime.sessions.begin() as session:
        alice = get_in_merchant(session, Staff, get_merchant(session, "m1"), "alice")
        known = {"local", name}
        upsert_binding(session, alice, "work",
                       BindingIn(connector="local", calendar_id="alice-work", active=False), known)
        upsert_binding(session, alice, "remote",
                       BindingIn(connector=name, calendar_id=calendar_id), known)


@pytest.fixture(params=["radicale", "graph"])
def add_event(request: pytest.FixtureRequest, shop: Shop, tmp_path: Path) -> AddEvent:
    if request.param == "radicale":
        return on_radicale(shop, request.getfixturevalue("radicale"), f"alice-{tmp_path.name}")
    return on_graph(shop, request.getfixturevalue("double"), tmp_path)


def mails(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_an_event_made_just_before_the_confirm_takes_the_slot(
    shop: Shop, browsers: Browsers, add_event: AddEvent
) -> None:
    token = shop.tokens["a"]
    browser = browsers()
    try:
        csrf = review(browser, token)  # the listing read and stored the calendar's busy time
        sent = mails(shop.runtime)
        add_event(FREE_SLOT - timedelta(minutes=30), FREE_SLOT + timedelta(minutes=30))
        answer = confirm(browser, token, csrf)
        assert answer.status_code == 409
        assert JUST_TAKEN in answer.text.lower()
        assert 'type="radio"' in answer.text, "fresh times are offered"
        assert FREE_SLOT.isoformat() not in answer.text
        booking = shop.booking("a")
        assert (booking.start, booking.version) == (START_A, 1)
        assert mails(shop.runtime) == sent
    finally:
        browser.call(shop.runtime.aclose_connectors)

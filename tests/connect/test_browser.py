"""A staff member connects their calendar in real headless Chromium, against `syncd run`
and a real Radicale: the link from the mail, the choice of kind, a wrong password and its
words, the calendars found, the choice, the connection's state; their booking appears on
the calendar within seconds; Disconnect. Walked at desktop width, every page checked at
phone width too and screenshotted at both (under the test's folder, copied to
test-output/screenshots/connect-*/)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.caldav_listing import list_events
from tests.graph import GraphDouble
from tests.m365.support import connector_table
from tests.servers import RadicaleServer
from tests.web.browser import DESKTOP, BothWidths, browser, tab_until
from tests.web.daemon import SyncdDaemon

__all__ = ["browser"]

STAFF = "dana@salon.example"
WRONG = "wrong password — iCloud and Fastmail need an app-specific password"


@pytest.fixture
def radicale(own_radicale: RadicaleServer) -> RadicaleServer:
    own_radicale.create_collection("work")
    return own_radicale


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture
def daemon(tmp_path: Path, double: GraphDouble) -> Iterator[SyncdDaemon]:
    """`syncd run` with an app registration on the Graph double for the connect pages."""
    prepared = SyncdDaemon(tmp_path, {})
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    double.add_app(client_id, secret=secret,
                   redirect_uris=(f"{prepared.url}/connect/m365/callback",))
    table = connector_table(double, client_id=client_id, secret=secret, directory=tmp_path)
    with SyncdDaemon(tmp_path, {"ms": table}, port=prepared.port) as running:
        yield running


def seed(daemon: SyncdDaemon) -> None:
    daemon.put("/merchants/m1", {"name": "Salon One", "timezone": "Europe/Berlin"})
    daemon.put("/merchants/m1/staff/dana", {
        "name": "Dana", "timezone": "Europe/Berlin", "email": STAFF,
        "working_hours": {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu",
                                                            "fri", "sat", "sun")}})
    daemon.put("/merchants/m1/services/cut", {"name": "Haircut", "duration_minutes": 30,
                                             "staff": ["dana"]})
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0,
                                                           microsecond=0)
    daemon.put("/merchants/m1/bookings/b1", {
        "service": "cut", "staff": "dana", "start": start.isoformat(),
        "customer": {"name": "Ada", "email": "ada@example.org", "timezone": "Europe/Berlin"}})
    issued = daemon.api.post("/api/v1/merchants/m1/staff/dana/connect-links")
    assert issued.status_code == 201, issued.text


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


def fill_account(page: Page, radicale: RadicaleServer, password: str) -> None:
    page.get_by_label("Email address or server address").fill(radicale.url)
    page.get_by_label("User name").fill(radicale.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Find my calendars").click()


def test_a_staff_member_connects_a_caldav_calendar(
    daemon: SyncdDaemon, radicale: RadicaleServer, browser: Browser,
    tmp_path: Path,
) -> None:
    seed(daemon)
    link = daemon.connect_link_for(STAFF)
    shots = BothWidths(tmp_path / "screenshots", "connect-caldav-{width}")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    assert page.goto(link) is not None
    shots.take(page, "start")

    page.get_by_role("link", name="Another calendar (iCloud, Fastmail, Nextcloud, any CalDAV)")\
        .click()
    tab_until(page, "Find my calendars")  # the keyboard reaches the form's button
    shots.take(page, "caldav-form")
    fill_account(page, radicale, "not-the-password")
    assert WRONG in page.inner_text("main").replace("Wrong password —", "wrong password —")
    shots.take(page, "wrong-password")

    fill_account(page, radicale, radicale.password)
    assert page.get_by_role("heading", level=1).inner_text() == "Choose your calendar"
    shots.take(page, "calendars")
    page.get_by_role("button", name="Connect this calendar").click()
    assert "Your calendar is connected" in page.inner_text("main")
    shots.take(page, "connected")
    work = radicale.collection_path("work")
    appeared = wait_for(lambda: len(list_events(radicale, work)) == 1, "the booking on Dana's")

    page.get_by_role("button", name="Disconnect").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Connect your calendar"
    shots.take(page, "disconnected", check=False)
    time.sleep(1.5)  # a worker pass or two: the event stays where it is
    assert len(list_events(radicale, work)) == 1

    missing = page.goto(link[:-4] + "AAAA")  # a link that opens nothing: the one 404 page
    assert missing is not None
    assert missing.status == 404
    assert "ask the business for a new link" in page.inner_text("main")
    assert page.inner_text("header") == "Connect your calendar"
    shots.take(page, "not-found")
    context.close()
    print(f"booking on the calendar {appeared:.2f}s after Connect")


def test_a_staff_member_connects_microsoft_365(
    daemon: SyncdDaemon, double: GraphDouble, browser: Browser, tmp_path: Path,
) -> None:
    seed(daemon)
    link = daemon.connect_link_for(STAFF)
    upn = f"dana-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_user(upn)
    shots = BothWidths(tmp_path / "screenshots", "connect-m365-{width}")
    # the double's HTTPS certificate is from a test authority
    context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("link", name="Microsoft 365 / Outlook").click()
    shots.take(page, "m365")

    double.sign_in(upn, consents=False)  # the person cancels at Microsoft
    page.get_by_role("link", name="Sign in with Microsoft").click()
    page.wait_for_url("**/connect/m365/callback")
    assert "Sign-in cancelled" in page.inner_text("main")
    shots.take(page, "m365-cancelled")

    double.sign_in(upn)
    page.get_by_role("link", name="Sign in with Microsoft").click()
    page.wait_for_url("**/calendars")
    assert upn in page.inner_text("main")
    shots.take(page, "m365-calendars")
    page.get_by_role("button", name="Connect this calendar").click()
    assert "Your calendar is connected" in page.inner_text("main")
    shots.take(page, "m365-connected", check=False)
    appeared = wait_for(lambda: len(double.events(upn)) == 1, "the booking in Dana's mailbox")
    context.close()
    print(f"booking in the mailbox {appeared:.2f}s after Connect")

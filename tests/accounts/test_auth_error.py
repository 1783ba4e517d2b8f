"""A calendar connected through the connect page whose password is then changed on its
server, against a running `syncd run` and a real Radicale: the calendar and its stored
account go to auth_error, the staff member who connected it and the merchant are told
once, with a reconnect link that opens the connect page ("Needs you"), and one
`binding.auth_error` event is queued; failing again tells nobody anything more. Storing
the right password through the API (or the server taking the stored one again) puts both
back to ok, the bookings arrive, and a later refusal is told again."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.accounts.test_daemon import wait_for
from tests.api.helpers import booking_body
from tests.caldav_listing import list_events
from tests.servers import RadicaleServer
from tests.web.conftest import csrf_of
from tests.web.daemon import SyncdDaemon

M = "/merchants/m1"
STAFF, OWNER = "alice@salon.example", "owner@salon.example"
SUBJECT = "calendar needs reconnecting"
NEW_PASSWORD = "changed-on-the-server-5c2e"
CONNECT_LINK = re.compile(r"https?://\S+/connect/[A-Za-z0-9_-]{43}")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[SyncdDaemon]:
    with SyncdDaemon(tmp_path, {}) as running:
        running.put(M, {"name": "Salon", "timezone": "Europe/Berlin"})
        running.put(f"{M}/notifications", {"addresses": [OWNER]})
        running.put(f"{M}/services/cut", {"name": "Haircut", "duration_minutes": 30})
        running.put(f"{M}/staff/alice", {"name": "Alice", "timezone": "Europe/Berlin",
                                         "email": STAFF})
        running.put(f"{M}/webhooks/platform", {"url": "https://hooks.example.com/syncd",
                                                "events": ["binding.auth_error"]})
        yield running


def set_server_password(server: RadicaleServer, password: str) -> None:
    """Radicale reads its htpasswd file again when it changes; the test's own listings
    follow."""
    (server.data_dir / "users").write_text(f"{server.username}:{password}\n")
    server.password = password


def notices(daemon: SyncdDaemon, address: str) -> list[EmailMessage]:
    return [m for m in daemon.messages_to(address) if SUBJECT in str(m["Subject"])]


def events_queued(daemon: SyncdDaemon) -> list[dict[str, object]]:
    with sqlite3.connect(daemon.workdir / "syncd.db") as db:
        rows = db.execute("SELECT body FROM webhook_deliveries WHERE event_type = ?",
                          ("binding.auth_error",)).fetchall()
    return [json.loads(row[0])["data"] for row in rows]


def account_row(daemon: SyncdDaemon) -> tuple[str, bool, str | None]:
    with sqlite3.connect(daemon.workdir / "syncd.db") as db:
        state, notified, error = db.execute(
            "SELECT state, auth_error_notified, last_error FROM connector_accounts").fetchone()
    return state, bool(notified), error


def failures(daemon: SyncdDaemon) -> int:
    with sqlite3.connect(daemon.workdir / "syncd.db") as db:
        return int(db.execute("SELECT consecutive_failures FROM calendar_bindings").fetchone()[0])


def connect_through_the_page(
    daemon: SyncdDaemon, server: RadicaleServer, calendar: str
) -> dict[str, object]:
    """Alice connects `calendar` from a link the merchant asked for; the account made."""
    answer = daemon.api.post(f"/api/v1{M}/staff/alice/connect-links")
    link = answer.json()["url"]
    with httpx.Client(timeout=30) as browser:
        form = browser.get(f"{link}/caldav")
        browser.post(f"{link}/caldav", data={
            "csrf": csrf_of(form.text), "address": server.url, "username": server.username,
            "password": server.password})
        listed = browser.get(f"{link}/calendars")
        chosen = browser.post(f"{link}/calendars",
                              data={"csrf": csrf_of(listed.text), "calendar": calendar})
        assert chosen.status_code == 303, chosen.text
    (stored,) = daemon.api.get(f"/api/v1{M}/accounts").json()["items"]
    assert isinstance(stored, dict)
    return stored


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage) -> str:
    match = CONNECT_LINK.search(plain(message))
    assert match, "no connect link in the notice"
    return match.group(0)


def book(daemon: SyncdDaemon, key: str, hour: int) -> None:
    daemon.put(f"{M}/bookings/{key}", booking_body(start=f"2030-01-10T{hour:02}:00:00+01:00"))


def state_of(daemon: SyncdDaemon) -> str:
    (binding,) = daemon.api.get(f"/api/v1{M}/staff/alice/calendars").json()["items"]
    return str(binding["state"])


def refused_once(daemon: SyncdDaemon, told: int) -> None:
    """The calendar refused: wait for the notices, then for two more failing passes."""
    wait_for(lambda: state_of(daemon) == "auth_error", 15, "the refusal")
    wait_for(lambda: len(notices(daemon, STAFF)) == told == len(notices(daemon, OWNER)), 15,
             "the notices")
    passes = failures(daemon)
    wait_for(lambda: failures(daemon) >= passes + 2, 15, "two more refused passes")
    assert len(notices(daemon, STAFF)) == told == len(notices(daemon, OWNER))
    assert len(events_queued(daemon)) == told
    state, notified, error = account_row(daemon)
    assert (state, notified) == ("auth_error", True)
    assert error is not None
    assert "HTTP 401" in error


def test_a_changed_password_is_told_once_and_recovers(
    daemon: SyncdDaemon, own_radicale: RadicaleServer
) -> None:
    calendar = own_radicale.create_collection("work")
    first_password = own_radicale.password
    stored = connect_through_the_page(daemon, own_radicale, calendar)
    key = stored["key"]
    book(daemon, "b1", 10)
    wait_for(lambda: len(list_events(own_radicale, calendar)) == 1, 15, "the first booking")

    set_server_password(own_radicale, NEW_PASSWORD)
    book(daemon, "b2", 11)
    refused_once(daemon, told=1)
    (to_staff,), (to_owner,) = notices(daemon, STAFF), notices(daemon, OWNER)
    assert to_staff["Subject"] == "Your calendar needs reconnecting"
    assert to_owner["Subject"] == "Alice's calendar needs reconnecting"
    assert "no longer accepts the account's password" in plain(to_staff)
    link = link_in(to_staff)
    assert link_in(to_owner) == link
    page = httpx.get(link, timeout=10)
    assert page.status_code == 200
    assert "Needs you" in page.text
    assert "Reconnect" in page.text
    (event,) = events_queued(daemon)
    assert event == {"merchant": "m1", "calendar": {"staff": "alice", "key": event_key(event)},
                     "connector": None, "account": key,
                     "reason": "the calendar server refused the account's user name and "
                               "password"}

    daemon.put(f"{M}/accounts/{key}", {"kind": "caldav", "settings": stored["settings"],
                                       "credential": {"password": NEW_PASSWORD}})
    wait_for(lambda: len(list_events(own_radicale, calendar)) == 2, 10, "b2 after reconnecting")
    wait_for(lambda: state_of(daemon) == "ok", 10, "the calendar ok")
    assert account_row(daemon) == ("ok", False, None)

    set_server_password(own_radicale, "changed-again-91ab")
    book(daemon, "b3", 12)
    refused_once(daemon, told=2)
    assert len({link_in(notice) for notice in notices(daemon, STAFF)}) == 2  # a new link

    set_server_password(own_radicale, NEW_PASSWORD)  # the stored password works again
    wait_for(lambda: len(list_events(own_radicale, calendar)) == 3, 10, "b3 by itself")
    wait_for(lambda: account_row(daemon) == ("ok", False, None), 10, "the account ok")
    assert state_of(daemon) == "ok"
    assert len(notices(daemon, STAFF)) == 2
    log = daemon.log.read_text()
    assert NEW_PASSWORD not in log
    assert first_password not in log


def event_key(event: dict[str, object]) -> str:
    calendar = event["calendar"]
    assert isinstance(calendar, dict)
    assert str(calendar["key"]).startswith("connect.")
    return str(calendar["key"])

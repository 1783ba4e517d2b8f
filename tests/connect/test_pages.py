"""The connect pages over HTTP, as `syncd run` serves them: a CalDAV calendar connected end to
end against a real Radicale, the words for a wrong password, and the manage pages' rules (one
404 for every link that does not work, security headers, CSRF) — SQLite and PostgreSQL."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.store.connect_tokens import ConnectToken, revoke_connect_tokens
from syncd.store.models import AccountState, CalendarBinding, ConnectorAccount, Mirror, Staff
from syncd.web.connect.mount import connect_mount
from syncd.web.limits import FailureLimiter
from tests.api.client import ApiClient
from tests.connect.shop import link_for, seed
from tests.servers import RadicaleServer
from tests.web.conftest import csrf_of
from tests.web.pages import assert_secure


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[ApiClient]:
    seed(runtime)
    with ApiClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def calendars(own_radicale: RadicaleServer) -> RadicaleServer:
    own_radicale.create_collection("work")
    return own_radicale


def find(browser: ApiClient, token: str, server: RadicaleServer, password: str) -> httpx.Response:
    form = browser.get(f"/connect/{token}/caldav")
    assert form.status_code == 200
    return browser.post(f"/connect/{token}/caldav", data={
        "csrf": csrf_of(form.text), "address": server.url, "username": server.username,
        "password": password})


def test_a_caldav_calendar_is_connected_and_disconnected(
    runtime: Runtime, browser: ApiClient, calendars: RadicaleServer
) -> None:
    token = link_for(runtime)
    start = browser.get(f"/connect/{token}")
    assert start.status_code == 200
    assert "Another calendar (iCloud, Fastmail, Nextcloud, any CalDAV)" in start.text
    found = find(browser, token, calendars, calendars.password)
    assert (found.status_code, found.headers["location"]) == (303, f"/connect/{token}/calendars")
    listed = browser.get(f"/connect/{token}/calendars")
    assert ">work<" in listed.text
    chosen = browser.post(f"/connect/{token}/calendars",
                          data={"csrf": csrf_of(listed.text), "calendar": "/alice/work/"})
    assert chosen.headers["location"] == f"/connect/{token}?connected=1"
    shown = browser.get(chosen.headers["location"])
    assert "Your calendar is connected" in shown.text
    assert "alice on 127.0.0.1" in shown.text
    assert "Working" in shown.text
    with runtime.sessions.begin() as session:
        assert all(m.pending for m in session.scalars(select(Mirror)))
        key = session.scalars(select(CalendarBinding.key)).one()
    gone = browser.post(f"/connect/{token}/disconnect",
                        data={"csrf": csrf_of(shown.text), "binding": key})
    assert gone.status_code == 303
    after = browser.get(f"/connect/{token}")
    assert "Connect your calendar" in after.text
    with runtime.sessions.begin() as session:
        assert session.scalars(select(CalendarBinding.active)).one() is False


def test_a_wrong_password_says_what_to_do(
    runtime: Runtime, browser: ApiClient, calendars: RadicaleServer
) -> None:
    token = link_for(runtime)
    refused = find(browser, token, calendars, "wrong")
    assert refused.status_code == 422
    assert "wrong password — iCloud and Fastmail need an app-specific password" in \
        refused.text.replace("Wrong", "wrong")
    assert calendars.url in refused.text  # what was typed stays, the password does not
    assert 'value="wrong"' not in refused.text
    assert browser.get(f"/connect/{token}/calendars").status_code == 303


def test_every_link_that_does_not_work_gets_the_same_404(
    runtime: Runtime, browser: ApiClient
) -> None:
    expired = link_for(runtime, days_ago=7.01)
    revoked = link_for(runtime, "bob")
    with runtime.sessions.begin() as session:
        revoke_connect_tokens(session, session.scalars(select(Staff).filter_by(key="bob")).one(),
                              datetime.now(UTC))
    pages = [browser.get("/connect/" + secrets.token_urlsafe(32)),
             browser.get(f"/connect/{expired}"),
             browser.get(f"/connect/{revoked}"),
             browser.get("/connect/not-a-token"),
             browser.get("/connect/" + "x" * 300),
             browser.get(f"/connect/{secrets.token_urlsafe(32)}/caldav")]
    assert {p.status_code for p in pages} == {404}
    assert len({p.text for p in pages}) == 1
    assert "ask the business for a new link" in pages[0].text
    for page in pages:
        assert_secure(page)
    assert browser.get(f"/connect/{link_for(runtime, days_ago=6.9)}").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(runtime: Runtime, browser: ApiClient) -> None:
    token = link_for(runtime)
    refused = browser.post(f"/connect/{token}/caldav",
                           data={"csrf": "x", "address": "a@b.example", "password": "p"})
    assert refused.status_code == 403
    assert_secure(refused)
    assert re.search(r"Please try again", refused.text)


def test_a_connection_whose_password_stopped_working_says_so(
    runtime: Runtime, browser: ApiClient, calendars: RadicaleServer
) -> None:
    token = link_for(runtime)
    listed = browser.get(f"/connect/{token}/calendars",
                         follow_redirects=False)  # nothing found yet: back to the start
    assert listed.headers["location"] == f"/connect/{token}"
    found = find(browser, token, calendars, calendars.password)
    listed = browser.get(found.headers["location"])
    browser.post(f"/connect/{token}/calendars",
                 data={"csrf": csrf_of(listed.text), "calendar": "/alice/work/"})
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        account.state, account.last_error = AccountState.AUTH_ERROR, "401 from the server"
    shown = browser.get(f"/connect/{token}")
    assert "Needs you: sign-in no longer accepted" in shown.text
    assert "no longer accepts the password" in shown.text
    assert "What the calendar service said: 401 from the server" in shown.text
    assert "Reconnect" in shown.text


def test_other_hosts_and_repeated_failures_are_refused(runtime: Runtime) -> None:
    seed(runtime)
    token = link_for(runtime)
    app = Starlette(routes=[connect_mount(runtime, limiter=FailureLimiter(3))])
    with ApiClient(app) as browser:
        evil = browser.get(f"/connect/{token}", headers={"host": "evil.example"})
        assert evil.status_code == 400
        assert evil.headers["content-security-policy"]
        for _ in range(2):  # the refused host was the first failure
            assert browser.get("/connect/" + secrets.token_urlsafe(32)).status_code == 404
        limited = browser.get("/connect/" + secrets.token_urlsafe(32))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert browser.get(f"/connect/{token}").status_code == 200  # what works still works


def test_without_encryption_keys_nothing_is_stored(
    runtime: Runtime, browser: ApiClient, calendars: RadicaleServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCD_ENCRYPTION_KEYS")
    token = link_for(runtime)
    refused = find(browser, token, calendars, calendars.password)
    assert refused.status_code == 503
    assert "not set up on this server yet" in refused.text
    with runtime.sessions.begin() as session:
        assert session.scalars(select(ConnectToken.draft)).one() is None

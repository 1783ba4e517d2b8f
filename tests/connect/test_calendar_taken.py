"""The connect page refuses a calendar another account already binds (bound twice, every
booking would be written to it twice), against a real Radicale — SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from syncd.account_changes import bind_calendar, store_account
from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.schemas import AccountIn, BindingIn, PasswordIn
from syncd.store.models import CalendarBinding
from tests.api.client import ApiClient
from tests.connect.shop import link_for, seed
from tests.servers import RadicaleServer
from tests.web.conftest import csrf_of


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[ApiClient]:
    seed(runtime)
    with ApiClient(create_app(runtime)) as client:
        yield client


def test_a_calendar_bound_through_another_account_is_not_connected_again(
    runtime: Runtime, browser: ApiClient, own_radicale: RadicaleServer
) -> None:
    own_radicale.create_collection("work")
    account = AccountIn(kind="caldav", settings={"url": own_radicale.url,
                        "username": own_radicale.username},
                        credential=PasswordIn(password=own_radicale.password))
    browser.call(lambda: store_account(runtime, "m1", "office", account))
    office = BindingIn(account="office", calendar_id="/%61lice/work")  # spelt otherwise
    browser.call(lambda: bind_calendar(runtime, "m1", "bob", "office", office))

    token = link_for(runtime)
    form = browser.get(f"/connect/{token}/caldav")
    found = browser.post(f"/connect/{token}/caldav", data={
        "csrf": csrf_of(form.text), "address": own_radicale.url,
        "username": own_radicale.username, "password": own_radicale.password})
    assert found.status_code == 303, found.text
    listed = browser.get(f"/connect/{token}/calendars")
    chosen = browser.post(f"/connect/{token}/calendars",
                          data={"csrf": csrf_of(listed.text), "calendar": "/alice/work/"})
    assert chosen.status_code == 409, chosen.text
    assert "already connected for someone else" in chosen.text
    with runtime.sessions.begin() as session:
        bound = session.execute(select(CalendarBinding.key, CalendarBinding.active)).all()
    assert bound == [("office", True)]

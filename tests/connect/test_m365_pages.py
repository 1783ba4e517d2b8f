"""Microsoft 365 on the connect pages over HTTP, against the Graph double: delegated sign-in
(authorization code flow with PKCE, Microsoft's form_post answer) to a bound calendar; a
mailbox of an organisation that consented; and the words for a cancelled sign-in, consent
not granted, an answer for no sign-in in progress (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select

from syncd.api import create_app
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.store.accounts import AccountChange, upsert_account
from syncd.store.catalog import get_merchant
from syncd.store.models import CalendarBinding, ConnectorAccount
from syncd.store.sealing import Sealer
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import AUTH
from tests.connect.conftest import ENCRYPTION_KEY
from tests.connect.shop import link_for, seed
from tests.graph import GraphDouble
from tests.graph.signin_helpers import follow, posted_to, redirected_to
from tests.m365.support import connector_table
from tests.web.conftest import csrf_of

CALLBACK = "http://testserver/connect/m365/callback"
CONSENT = "http://testserver/connect/m365/consent"


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture
def app_table(double: GraphDouble, tmp_path: Path) -> dict[str, Any]:
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    double.add_app(client_id, secret=secret, redirect_uris=(CALLBACK, CONSENT))
    return connector_table(double, client_id=client_id, secret=secret, directory=tmp_path)


@pytest.fixture
def runtime(settings: Settings, app_table: dict[str, Any]) -> Iterator[Runtime]:
    with_app = settings.model_copy(update={"connectors": {"ms": app_table}})
    runtime = build_runtime(with_app)
    yield runtime
    runtime.close()


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[ApiClient]:
    seed(runtime)
    with ApiClient(create_app(runtime)) as client:
        yield client


def staff_user(double: GraphDouble, tenant: str | None = None) -> str:
    upn = f"dana-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_user(upn, tenant)
    return upn


def to_microsoft(browser: ApiClient, token: str) -> str:
    assert browser.get(f"/connect/{token}/m365").status_code == 200
    started = browser.get(f"/connect/{token}/m365/sign-in")
    assert started.status_code == 303
    return started.headers["location"]


def answer(browser: ApiClient, double: GraphDouble, url: str) -> httpx.Response:
    """The browser at Microsoft, then Microsoft's page posting the answer back."""
    target, fields = posted_to(follow(double, url))
    assert target == CALLBACK
    return browser.post("/connect/m365/callback", data=fields)


def test_a_staff_member_signs_in_and_binds_their_calendar(
    runtime: Runtime, browser: ApiClient, double: GraphDouble
) -> None:
    token = link_for(runtime)
    assert "Microsoft 365 / Outlook" in browser.get(f"/connect/{token}").text
    upn = staff_user(double)
    double.sign_in(upn)
    back = answer(browser, double, to_microsoft(browser, token))
    assert (back.status_code, back.headers["location"]) == (303, f"/connect/{token}/calendars")
    listed = browser.get(back.headers["location"])
    assert upn in listed.text
    chosen = browser.post(f"/connect/{token}/calendars",
                          data={"csrf": csrf_of(listed.text), "calendar": "me"})
    shown = browser.get(chosen.headers["location"])
    assert "Your calendar is connected" in shown.text
    assert upn in shown.text
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        settings = json.loads(account.settings)
        assert (settings["sign_in"], settings["user"]) == ("delegated", upn)
        cache = Sealer([ENCRYPTION_KEY]).open(account.credential or "")
        assert "RefreshToken" in cache
        binding = session.scalars(select(CalendarBinding)).one()
        assert (binding.calendar_id, binding.account_id) == ("me", account.id)


def test_a_sign_in_cancelled_at_microsoft(
    runtime: Runtime, browser: ApiClient, double: GraphDouble
) -> None:
    token = link_for(runtime)
    double.sign_in(staff_user(double), consents=False)
    back = answer(browser, double, to_microsoft(browser, token))
    assert back.status_code == 422
    assert "Sign-in cancelled" in back.text
    assert "start again and accept the calendar permission" in back.text
    assert f"/connect/{token}/m365/sign-in" in back.text  # to try again


def test_consent_not_granted_by_the_organisation(runtime: Runtime, browser: ApiClient) -> None:
    token = link_for(runtime)
    state = dict(parse_qsl(urlsplit(to_microsoft(browser, token)).query))["state"]
    refused = browser.get("/connect/m365/callback", params={
        "state": state, "error": "consent_required",
        "error_description": "AADSTS65001: The user or administrator has not consented"})
    assert refused.status_code == 422
    assert "Your organisation has not allowed this" in refused.text
    assert "Ask your IT administrator to approve it" in refused.text
    again = browser.get("/connect/m365/callback", params={"state": state, "code": "x"})
    assert again.status_code == 404  # a state is used once


def test_an_answer_for_no_sign_in_in_progress_is_the_404(browser: ApiClient) -> None:
    for params in ({"state": "made-up", "code": "x"}, {}):
        refused = browser.get("/connect/m365/callback", params=params)
        assert refused.status_code == 404
        assert "ask the business for a new link" in refused.text


def organisation(runtime: Runtime, table: dict[str, Any], tenant: str) -> None:
    with runtime.sessions.begin() as session:
        change = AccountChange("m365", {**table, "tenant_id": tenant}, None)
        upsert_account(session, get_merchant(session, "m1"), "contoso", change)


def test_a_mailbox_of_an_organisation_that_consented(
    runtime: Runtime, browser: ApiClient, double: GraphDouble, app_table: dict[str, Any]
) -> None:
    organisation(runtime, app_table, double.tenant_id)  # the app's home tenant: consented
    token = link_for(runtime)
    page = browser.get(f"/connect/{token}/m365")
    assert "Or use your work mailbox" in page.text
    upn = staff_user(double)
    not_an_address = browser.post(f"/connect/{token}/m365/mailbox",
                                  data={"csrf": csrf_of(page.text), "mailbox": "nobody"})
    assert not_an_address.status_code == 422
    assert "Mailbox not found" in not_an_address.text
    found = browser.post(f"/connect/{token}/m365/mailbox",
                         data={"csrf": csrf_of(page.text), "mailbox": upn})
    assert found.status_code == 303, found.text
    listed = browser.get(found.headers["location"])
    browser.post(f"/connect/{token}/calendars", data={"csrf": csrf_of(listed.text),
                                                      "calendar": upn})
    with runtime.sessions.begin() as session:
        binding = session.scalars(select(CalendarBinding)).one()
        account = session.scalars(select(ConnectorAccount)).one()
        assert (binding.calendar_id, binding.account_id, account.key) == (upn, account.id,
                                                                          "contoso")


def test_an_organisation_that_has_not_consented(
    runtime: Runtime, browser: ApiClient, double: GraphDouble, app_table: dict[str, Any]
) -> None:
    tenant = double.add_tenant()
    organisation(runtime, app_table, tenant)
    token = link_for(runtime)
    page = browser.get(f"/connect/{token}/m365")
    refused = browser.post(f"/connect/{token}/m365/mailbox",
                           data={"csrf": csrf_of(page.text), "mailbox": staff_user(double, tenant)})
    assert refused.status_code == 422
    assert "Your organisation has not allowed this" in refused.text


def administrator(double: GraphDouble, *, consents: bool = True) -> str:
    tenant = double.add_tenant()
    admin = f"admin-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(admin, tenant, admin=True)
    double.sign_in(admin, consents=consents)
    return tenant


def consent_answer(browser: ApiClient, double: GraphDouble) -> httpx.Response:
    issued = browser.post("/api/v1/merchants/m1/m365-consent-links", headers=AUTH)
    assert issued.status_code == 201, issued.text
    target, query = redirected_to(follow(double, issued.json()["url"]))
    assert target == CONSENT
    return browser.get("/connect/m365/consent", params=query)


def test_a_merchant_administrator_consents_for_the_organisation(
    runtime: Runtime, browser: ApiClient, double: GraphDouble
) -> None:
    tenant = administrator(double)
    answered = consent_answer(browser, double)
    assert answered.status_code == 200
    assert "Organisation connected" in answered.text
    with runtime.sessions.begin() as session:
        account = session.scalars(select(ConnectorAccount)).one()
        assert (account.key, json.loads(account.settings)["tenant_id"]) == (
            "m365-organisation", tenant)
    token = link_for(runtime)
    page = browser.get(f"/connect/{token}/m365")
    found = browser.post(f"/connect/{token}/m365/mailbox", data={
        "csrf": csrf_of(page.text), "mailbox": staff_user(double, tenant)})
    assert (found.status_code, found.headers["location"]) == (303, f"/connect/{token}/calendars")


def test_an_administrator_who_declines(
    runtime: Runtime, browser: ApiClient, double: GraphDouble
) -> None:
    administrator(double, consents=False)
    answered = consent_answer(browser, double)
    assert answered.status_code == 422
    assert "Your organisation has not allowed this" in answered.text
    with runtime.sessions.begin() as session:
        assert session.scalars(select(ConnectorAccount)).all() == []
    forged = browser.get("/connect/m365/consent",
                         params={"admin_consent": "True", "tenant": str(uuid.uuid4()),
                                 "state": "not-ours"})
    assert forged.status_code == 404

"""Connecting Microsoft 365 accounts against the Graph double: admin consent for an
organisation, delegated sign-in with PKCE for one user, and the errors a person meets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.m365 import Settings, build
from connectors.m365.signin import (
    SignInError,
    admin_consent_url,
    finish_delegated_sign_in,
    parse_admin_consent_reply,
    start_delegated_sign_in,
)
from tests.contract.suite import spec
from tests.graph import GraphDouble
from tests.graph.signin_helpers import follow, posted_to, redirected_to
from tests.m365.signin_support import REDIRECT_URI, add_staff, app_table, sign_in

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def table(double: GraphDouble, tmp_path: Path) -> dict[str, Any]:
    return app_table(double, tmp_path)


def merchant_admin(double: GraphDouble, *, consents: bool = True) -> tuple[str, str]:
    tenant = double.add_tenant()
    admin = f"admin-{uuid.uuid4().hex[:8]}@merchant.test"
    double.add_user(admin, tenant, admin=True)
    double.sign_in(admin, consents=consents)
    return tenant, admin


async def test_admin_consent_connects_a_merchant_tenant_end_to_end(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    tenant, _ = merchant_admin(double)
    staff = add_staff(double, tenant)
    settings = Settings.model_validate(table)
    url = admin_consent_url(settings, REDIRECT_URI, "st-1")
    assert url.startswith(f"{double.base_url}/organizations/v2.0/adminconsent?")
    target, query = redirected_to(follow(double, url))
    assert target == REDIRECT_URI
    assert parse_admin_consent_reply(query, "st-1") == tenant
    connector = build(Settings.model_validate({**table, "tenant_id": tenant}))
    try:
        await connector.calendar(staff).create(spec())
    finally:
        await connector.aclose()
    assert [e["subject"] for e in double.events(staff)] == [spec().summary]


async def test_before_consent_the_merchant_tenant_refuses_the_app(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    tenant, _ = merchant_admin(double)
    staff = add_staff(double, tenant)
    connector = build(Settings.model_validate({**table, "tenant_id": tenant}))
    try:
        with pytest.raises(Exception, match="AADSTS7000229"):
            await connector.calendar(staff).create(spec())
    finally:
        await connector.aclose()


async def test_a_declined_admin_consent_says_so(double: GraphDouble, table: dict[str, Any]) -> None:
    merchant_admin(double, consents=False)
    url = admin_consent_url(Settings.model_validate(table), REDIRECT_URI, "st-2")
    _, query = redirected_to(follow(double, url))
    with pytest.raises(SignInError) as caught:
        parse_admin_consent_reply(query, "st-2")
    assert caught.value.reason == "declined"
    assert "AADSTS65004" in str(caught.value)
    assert "administrator" in str(caught.value)


@pytest.mark.parametrize(
    "query",
    [
        {"admin_consent": "True", "tenant": str(uuid.uuid4()), "state": "st-other"},
        {"admin_consent": "True", "tenant": str(uuid.uuid4())},
        {"error": "access_denied", "error_description": "AADSTS65004: declined"},
    ],
    ids=["wrong", "missing", "error-without-state"],
)
def test_a_consent_reply_for_another_request_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(SignInError) as caught:
        parse_admin_consent_reply(query, "st-3")
    assert caught.value.reason == "mismatch"
    assert "start again" in str(caught.value)


@pytest.mark.parametrize(
    "query",
    [
        {"state": "s", "tenant": str(uuid.uuid4())},
        {"state": "s", "admin_consent": "True", "tenant": "contoso.com/../x"},
        {"state": "s", "admin_consent": "True"},
    ],
    ids=["no-consent-flag", "bad-tenant", "no-tenant"],
)
def test_a_consent_reply_without_a_tenant_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(SignInError) as caught:
        parse_admin_consent_reply(query, "s")
    assert caught.value.reason == "refused"


def test_an_error_reply_repeats_no_text_from_the_browser() -> None:
    query = {
        "state": "s",
        "error": "<script>alert(1)</script>",
        "error_description": "AADSTS700016: <b>anything</b>",
    }
    with pytest.raises(SignInError) as caught:
        parse_admin_consent_reply(query, "s")
    message = str(caught.value)
    assert "AADSTS700016" in message
    assert "<" not in message
    assert "anything" not in message


async def test_delegated_sign_in_with_pkce_yields_a_token_cache_and_the_user(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    staff = add_staff(double)
    settings = Settings.model_validate(table)
    double.sign_in(staff)
    url, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    asked = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(f"{double.base_url}/common/oauth2/v2.0/authorize?")
    assert asked["code_challenge_method"] == "S256"
    assert set(asked["scope"].split()) == {
        "Calendars.ReadWrite",
        "offline_access",
        "openid",
        "profile",
    }
    assert asked["response_mode"] == "form_post"
    kept = json.loads(json.dumps(flow))  # the caller keeps it sealed between the two calls
    target, fields = posted_to(follow(double, url))
    assert target == REDIRECT_URI
    signed_in = await finish_delegated_sign_in(settings, kept, fields)
    assert (signed_in.user, signed_in.tenant_id) == (staff, double.tenant_id)
    cache = json.loads(signed_in.token_cache)
    assert len(cache["RefreshToken"]) == 1
    assert [a["username"] for a in cache["Account"].values()] == [staff]


async def test_a_reply_for_another_sign_in_is_refused(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    staff = add_staff(double)
    settings = Settings.model_validate(table)
    double.sign_in(staff)
    _, mine = await start_delegated_sign_in(settings, REDIRECT_URI)
    other_url, _ = await start_delegated_sign_in(settings, REDIRECT_URI)
    _, fields = posted_to(follow(double, other_url))
    with pytest.raises(SignInError) as caught:
        await finish_delegated_sign_in(settings, mine, fields)
    assert caught.value.reason == "mismatch"


async def test_a_declined_sign_in_says_so(double: GraphDouble, table: dict[str, Any]) -> None:
    staff = add_staff(double)
    settings = Settings.model_validate(table)
    double.sign_in(staff, consents=False)
    url, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    _, fields = posted_to(follow(double, url))
    with pytest.raises(SignInError) as caught:
        await finish_delegated_sign_in(settings, flow, fields)
    assert caught.value.reason == "declined"
    assert "AADSTS65004" in str(caught.value)


async def test_a_code_redeemed_twice_is_expired(double: GraphDouble, table: dict[str, Any]) -> None:
    staff = add_staff(double)
    settings = Settings.model_validate(table)
    double.sign_in(staff)
    url, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    _, fields = posted_to(follow(double, url))
    await finish_delegated_sign_in(settings, flow, fields)
    with pytest.raises(SignInError) as caught:
        await finish_delegated_sign_in(settings, flow, fields)
    assert caught.value.reason == "expired"
    assert "AADSTS54005" in str(caught.value)


async def test_an_unreachable_sign_in_service_says_so(table: dict[str, Any]) -> None:
    settings = Settings.model_validate({**table, "authority_host": "https://127.0.0.1:9"})
    with pytest.raises(SignInError) as caught:
        await start_delegated_sign_in(settings, REDIRECT_URI)
    assert caught.value.reason == "unavailable"


async def test_sign_in_in_the_users_own_tenant_records_it(
    double: GraphDouble, tmp_path: Path
) -> None:
    tenant = double.add_tenant()
    staff = add_staff(double, tenant)
    signed_in = await sign_in(double, app_table(double, tmp_path), staff)
    assert signed_in.tenant_id == tenant


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sign_in": "delegated"}, "user"),
        ({"user": "anna@contoso.test"}, "user"),
        ({"sign_in": "delegated", "user": "anna @contoso.test"}, "pattern"),
        ({"sign_in": "someone"}, "sign_in"),
        ({"sign_in_tenant": "a/b"}, "pattern"),
    ],
)
def test_delegated_settings_are_checked(
    table: dict[str, Any], fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings.model_validate({**table, **fields})


async def test_a_reply_without_a_code_is_refused(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    settings = Settings.model_validate(table)
    double.sign_in(add_staff(double))
    _, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    with pytest.raises(SignInError) as caught:
        await finish_delegated_sign_in(settings, flow, {"state": flow["state"]})
    assert caught.value.reason == "refused"


async def test_an_id_token_for_another_sign_in_is_refused(
    double: GraphDouble, table: dict[str, Any]
) -> None:
    settings = Settings.model_validate(table)
    double.sign_in(add_staff(double))
    url, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    _, fields = posted_to(follow(double, url))
    swapped = {**flow, "nonce": "a-nonce-of-another-sign-in"}
    with pytest.raises(SignInError) as caught:
        await finish_delegated_sign_in(settings, swapped, fields)
    assert caught.value.reason == "mismatch"
    assert "nonce" not in str(caught.value)

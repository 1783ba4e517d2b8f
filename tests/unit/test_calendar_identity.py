"""Where a calendar lives, spelt the same whichever account reaches it: the key that stops
one calendar from being bound twice (and getting every booking twice)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors import calendar_identity

DAV = {"kind": "caldav", "url": "https://dav.example/dav/", "username": "alice"}
M365_APP = {
    "kind": "m365", "tenant_id": "Contoso.onmicrosoft.com", "client_id": "app",
    "client_secret_env": "SYNCD_TEST_UNSET",  # the secret is not read to tell a calendar
}


def caldav(url: str, calendar_id: str) -> str | None:
    return calendar_identity(DAV | {"url": url}, calendar_id, stored=True)


def test_caldav_spellings_of_one_collection_are_one_identity() -> None:
    spellings = [
        ("https://dav.example/dav/", "/dav/alice/work/"),
        ("https://DAV.Example:443/dav/", "/dav/alice/work"),
        ("https://dav.example./dav", "alice/work/"),
        ("https://dav.example/dav/", "https://dav.example/dav/%61lice/work/"),
        ("https://dav.example/dav/", "/dav/alice/./other/../work/"),
    ]
    found = {caldav(url, calendar_id) for url, calendar_id in spellings}
    assert found == {"caldav:https://dav.example:443/dav/alice/work/"}


@pytest.mark.parametrize(
    ("url", "calendar_id"),
    [
        ("http://dav.example/dav/", "/dav/alice/work/"),  # another scheme, another port
        ("https://dav.example:8443/dav/", "/dav/alice/work/"),
        ("https://other.example/dav/", "/dav/alice/work/"),
        ("https://dav.example/dav/", "/dav/alice/Work/"),  # paths are case-sensitive
        ("https://dav.example/dav/", "/dav/alice/home/"),
    ],
)
def test_caldav_other_collections_differ(url: str, calendar_id: str) -> None:
    assert caldav(url, calendar_id) != caldav("https://dav.example/dav/", "/dav/alice/work/")


def test_caldav_an_id_outside_the_account_has_none() -> None:
    assert caldav("https://dav.example/dav/", "https://elsewhere.example/dav/a/") is None
    assert caldav("https://dav.example/dav/", "/other/a/") is None


def m365(settings: dict[str, Any], calendar_id: str) -> str | None:
    return calendar_identity(M365_APP | settings, calendar_id, stored=True)


def test_m365_a_signed_in_users_me_is_their_mailbox() -> None:
    signed_in = {"sign_in": "delegated", "user": "Zoe@Contoso.com"}
    assert m365(signed_in, "me") == m365({}, "zoe@contoso.com")
    assert m365(signed_in, "me/AAMkAD=") == m365({}, "ZOE@contoso.com/AAMkAD=")
    assert m365(signed_in, "me/AAMkAD=") != m365({}, "zoe@contoso.com/aamkad=")
    assert m365({}, "zoe@contoso.com") != m365({}, "zoe@contoso.com/AAMkAD=")


def test_m365_tenants_and_unknown_users_are_told_apart() -> None:
    other_tenant = {"tenant_id": "fabrikam.onmicrosoft.com"}
    assert m365(other_tenant, "zoe@contoso.com") != m365({}, "zoe@contoso.com")
    assert m365({}, "me") is None  # an app has no "me"


def test_a_kind_that_cannot_tell_has_none() -> None:
    assert calendar_identity({"kind": "memory"}, "alice-work", stored=False) is None

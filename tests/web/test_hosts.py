"""The manage pages answer only for trusted hosts, and never redirect to another one."""

from __future__ import annotations

import pytest

from syncd.api import create_app
from tests.api.client import ApiClient
from tests.web.conftest import Browsers, Shop

EVIL = {"host": "evil.example"}


def test_a_trailing_slash_is_a_relative_redirect_on_the_same_site(
    shop: Shop, browsers: Browsers
) -> None:
    token, browser = shop.tokens["a"], browsers()
    for path, target in [(f"/manage/{token}/", f"/manage/{token}"),
                         (f"/manage/{token}/cancel/", f"/manage/{token}/cancel"),
                         ("/manage//evil.example/", "/manage/evil.example")]:
        answer = browser.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (308, target), path
    assert browser.get(f"/manage/{token}/", follow_redirects=True).status_code == 200


def test_another_host_gets_no_page_and_no_redirect(shop: Shop) -> None:
    token = shop.tokens["a"]
    with ApiClient(create_app(shop.runtime)) as browser:  # as `syncd run` serves them
        for path in (f"/manage/{token}", f"/manage/{token}/", f"/manage/{token}/cancel"):
            answer = browser.get(path, headers=EVIL, follow_redirects=False)
            assert answer.status_code == 400, path
            assert "evil.example" not in answer.headers.get("location", "")
            assert answer.headers["content-security-policy"]  # still framed as a page
        assert browser.get(f"/manage/{token}").status_code == 200  # public_url's host


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080"])
def test_the_loopback_names_are_trusted_by_default(shop: Shop, host: str) -> None:
    with ApiClient(create_app(shop.runtime)) as browser:
        answer = browser.get(f"/manage/{shop.tokens['a']}", headers={"host": host})
        assert answer.status_code == 200


def test_trusted_hosts_replaces_the_default(shop: Shop) -> None:
    shop.runtime.settings.manage.trusted_hosts = ["book.example", "*.book.example"]
    with ApiClient(create_app(shop.runtime)) as browser:
        path = f"/manage/{shop.tokens['a']}"
        assert browser.get(path, headers={"host": "book.example"}).status_code == 200
        assert browser.get(path, headers={"host": "eu.book.example"}).status_code == 200
        assert browser.get(path).status_code == 400  # testserver is no longer trusted

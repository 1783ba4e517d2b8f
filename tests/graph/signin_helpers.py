"""What the delegated and consent tests share: apps with redirect URIs, following a redirect."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msal

from tests.graph import GraphDouble

REDIRECT_URI = "http://localhost:8400/callback"
CALENDARS = ["Calendars.ReadWrite"]


def public_app(double: GraphDouble, authority: str | None = None) -> tuple[str, Any]:
    """A public client (no credential) registered with REDIRECT_URI, and MSAL for it."""
    client_id = str(uuid.uuid4())
    double.add_app(client_id, redirect_uris=(REDIRECT_URI,))
    app = msal.PublicClientApplication(
        client_id,
        authority=authority or double.authority,
        instance_discovery=False,
        http_client=httpx.Client(verify=double.tls_verify()),
    )
    return client_id, app


def confidential_app(
    double: GraphDouble, secret: str, authority: str | None = None
) -> tuple[str, Any]:
    client_id = str(uuid.uuid4())
    double.add_app(client_id, secret=secret, redirect_uris=(REDIRECT_URI,))
    return client_id, msal_confidential(double, client_id, secret, authority)


def msal_confidential(
    double: GraphDouble, client_id: str, secret: str, authority: str | None = None
) -> Any:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=authority or double.authority,
        instance_discovery=False,
        http_client=httpx.Client(verify=double.tls_verify()),
    )


def follow(double: GraphDouble, url: str) -> httpx.Response:
    """What the browser gets from an Entra page: a redirect (not followed) or an error page."""
    return httpx.get(url, verify=double.tls_verify(), follow_redirects=False)


class _FormPost(HTMLParser):
    """The action and hidden fields of Entra's form_post page."""

    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", dict[str, str]()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = found["action"]
        elif tag == "input":
            self.fields[found["name"]] = found["value"]


def posted_to(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """response_mode=form_post: where the page POSTs, and what."""
    assert response.status_code == 200, response.text
    page = _FormPost()
    page.feed(response.text)
    return page.action, page.fields


def redirected_to(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The redirect's target (without query) and its query parameters."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    target = f"{location.scheme}://{location.netloc}{location.path}"
    return target, dict(parse_qsl(location.query))


def sign_in_with_msal(double: GraphDouble, app: Any, scopes: list[str]) -> dict[str, Any]:
    """MSAL's authorization code flow: initiate, the browser's redirect, redeem."""
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI, response_mode="form_post")
    target, params = posted_to(follow(double, flow["auth_uri"]))
    assert target == REDIRECT_URI
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, params)
    return result

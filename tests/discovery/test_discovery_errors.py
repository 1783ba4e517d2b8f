"""Each way discovery fails, with the error a person can act on: real servers where they
can show it, a scripted one for what no real server does on purpose (garbage, a web
page, a redirect to another host, a certificate for another name)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from connectors.caldav.discovery import ClientOptions, discover
from connectors.caldav.discovery_errors import (
    AccessDeniedError,
    BadAnswerError,
    DiscoveryError,
    HostNotFoundError,
    InvalidStartError,
    NoCalDAVError,
    NoCalendarsError,
    ServerFailedError,
    TimedOutError,
    TlsFailureError,
    UnreachableError,
    WrongCredentialsError,
)
from connectors.caldav.discovery_http import MAX_BODY_BYTES, MAX_REDIRECTS
from tests.discovery.multistatus import multistatus, principal_at
from tests.discovery.scripted_http import Reply, ScriptedServer
from tests.servers import DavServer, RadicaleServer, XandikosServer, free_port

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"


async def _fails(start: str, kind: type[DiscoveryError], **options: Any) -> DiscoveryError:
    """The error discovering from `start` ends in; it never shows the password."""
    with pytest.raises(kind) as raised:
        await discover(start, "ana", PASSWORD, options=ClientOptions(**options))
    assert PASSWORD not in str(raised.value)
    return raised.value


async def test_a_wrong_password_says_so_on_every_family(family_server: DavServer) -> None:
    server = family_server
    with pytest.raises(WrongCredentialsError) as raised:
        await discover(
            server.url, server.username, "not-" + server.password,
            options=ClientOptions(ca_file=server.ca_file),
        )
    assert raised.value.code == "wrong_credentials"
    assert "app-specific password" in str(raised.value)
    assert f"127.0.0.1:{server.port}" in str(raised.value)
    assert server.password not in str(raised.value)


async def test_a_web_site_without_caldav() -> None:
    page = Reply(200, b"<html><body>Welcome</body></html>", "text/html")
    with ScriptedServer({"/": page}) as site:
        error = await _fails(site.url + "/", NoCalDAVError)
        assert error.code == "no_caldav"
        assert "does not offer CalDAV" in str(error)
        # the URL given first, then its well-known address, where the site has nothing
        assert [(s.method, s.path) for s in site.seen] == [
            ("PROPFIND", "/"), ("PROPFIND", "/.well-known/caldav"),
        ]


async def test_a_webdav_server_naming_no_principal() -> None:
    plain_dav = multistatus("/", props="<D:resourcetype><D:collection/></D:resourcetype>")
    with ScriptedServer({"/": plain_dav, "/.well-known/caldav": Reply(404)}) as server:
        error = await _fails(server.url + "/", NoCalDAVError)
        assert "current-user-principal" in str(error)


async def test_a_url_below_the_dav_root_finds_the_account_through_the_well_known(
    radicale: RadicaleServer,
) -> None:
    radicale.create_collection("well-known-fallback")
    found = await discover(radicale.url + "/no/such/place/", radicale.username, radicale.password)
    assert radicale.collection_path("well-known-fallback") in {c.path for c in found.calendars}


async def test_a_certificate_from_an_authority_not_trusted(xandikos: XandikosServer) -> None:
    error = await _fails(xandikos.url, TlsFailureError)
    assert error.code == "tls_failure"
    assert "certificate" in str(error)
    assert "ca_file" in str(error)


async def test_a_certificate_for_another_name(tmp_path: Path) -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("calendar.example.org").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with ScriptedServer({"/": principal_at("/p/")}, tls=context) as server:
        error = await _fails(server.url + "/", TlsFailureError, ca_file=str(ca_file))
        assert "mismatch" in str(error).lower()
        assert server.seen == []


async def test_a_ca_file_that_cannot_be_read(tmp_path: Path) -> None:
    error = await _fails("https://127.0.0.1/", TlsFailureError, ca_file=str(tmp_path / "no.pem"))
    assert "CA file cannot be read" in str(error)


async def test_tls_spoken_to_a_plain_http_server(radicale: RadicaleServer) -> None:
    error = await _fails(f"https://127.0.0.1:{radicale.port}/", TlsFailureError)
    assert "handshake" in str(error)


async def test_nothing_listening() -> None:
    port = free_port()
    error = await _fails(f"http://127.0.0.1:{port}/", UnreachableError)
    assert error.code == "unreachable"
    assert f"127.0.0.1:{port}" in str(error)


async def test_a_server_too_slow_to_answer() -> None:
    with ScriptedServer({"/": Reply(207, delay_seconds=1)}) as server:
        error = await _fails(server.url + "/", TimedOutError, timeout_seconds=0.2)
        assert error.code == "timeout"


async def test_the_whole_discovery_is_bounded_in_time() -> None:
    slow = Reply(207, delay_seconds=0.15)
    with ScriptedServer({"/": slow, "/.well-known/caldav": slow}) as server:
        error = await _fails(server.url + "/", TimedOutError, deadline_seconds=0.25)
        assert "in time" in str(error)


async def test_a_host_name_that_does_not_exist() -> None:
    error = await _fails("https://calendar.nowhere.invalid/", HostNotFoundError)
    assert error.code == "host_not_found"
    assert "calendar.nowhere.invalid" in str(error)


@pytest.mark.parametrize(
    ("reply", "what"),
    [
        (Reply(207, b"<D:multistatus xmlns:D='DAV:'><D:response>", "application/xml"),
         "unreadable"),
        (Reply(207, b"<html><body>hello</body></html>", "application/xml"), "not a multistatus"),
        (Reply(207, b"<D:multistatus xmlns:D='DAV:'/>", "text/html"), "text/html"),
        (Reply(207, b"<D:multistatus xmlns:D='DAV:'/>", "application/xml"), "without a response"),
        (Reply(207, b" " * (MAX_BODY_BYTES + 1), "application/xml"), "over"),
        (Reply(302, headers={"Location": "/"}), f"more than {MAX_REDIRECTS} redirects"),
        (Reply(301), "without a Location"),
        (Reply(301, headers={"Location": "http://127.0.0.1:99999/"}), "a malformed URL"),
        (Reply(301, headers={"Location": "ftp://127.0.0.1/"}), "not http(s)"),
        (principal_at("http://127.0.0.1:99999/p/"), "a malformed URL"),
    ],
    ids=["cut-off", "html-root", "html-type", "empty", "too-large", "redirect-loop", "no-location",
         "bad-location", "ftp-location", "bad-principal"],
)
async def test_an_answer_that_is_not_webdav(reply: Reply, what: str) -> None:
    with ScriptedServer({"/": reply, "/.well-known/caldav": reply}) as server:
        error = await _fails(server.url + "/", BadAnswerError)
        assert error.code == "bad_answer"
        assert what in str(error)


async def test_a_principal_without_calendars(own_radicale: RadicaleServer) -> None:
    server = own_radicale
    with pytest.raises(NoCalendarsError) as raised:
        await discover(server.url, server.username, server.password)
    assert raised.value.code == "no_calendars"
    assert raised.value.account_url == f"{server.url}/{server.username}/"


@pytest.mark.parametrize(
    ("status", "kind", "said"),
    [
        (403, AccessDeniedError, "refuses access to the calendars"),
        (429, ServerFailedError, "HTTP 429: try again later"),
        (503, ServerFailedError, "HTTP 503: try again later"),
    ],
)
async def test_a_server_refusing_or_failing(
    status: int, kind: type[DiscoveryError], said: str
) -> None:
    with ScriptedServer({"/": Reply(status), "/.well-known/caldav": Reply(404)}) as server:
        error = await _fails(server.url + "/", kind)
        assert said in str(error)


@pytest.mark.parametrize(
    "start", ["", "not an address", "ftp://example.org/", "https://ana:pw@example.org/",
              "ana@", "https:///caldav", "https://[::1/", "https://example.org:99999/"],
)
async def test_a_start_that_is_no_address(start: str) -> None:
    error = await _fails(start, InvalidStartError)
    assert error.code == "invalid_start"

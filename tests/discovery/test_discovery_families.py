"""Discovery on every CalDAV server family: from the server's root URL, from its
`/.well-known/caldav` where it offers one, and from an email address whose domain's SRV
(and TXT) records, served by the test's own DNS server, point at the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from connectors.caldav import Settings, build
from connectors.caldav.discovery import ClientOptions, Discovery, discover
from connectors.caldav.origin import AccountOrigin
from tests.contract.harness import unique_name
from tests.discovery.dns_server import DnsServer
from tests.servers import DavServer

pytestmark = pytest.mark.anyio

# Where each family's /.well-known/caldav redirects. DAViCal under `php -S` has none
# (Apache's rewrite rule gives it one): its DAV root, /caldav.php/, is named by a TXT
# record instead (RFC 6764 section 4).
_WELL_KNOWN_PATHS = {"radicale": "/", "xandikos": "/", "cyrus": "/dav/calendars"}
_CONTEXT_PATHS = {"davical": "/caldav.php/"}


def _family(server: DavServer) -> str:
    return type(server).__name__.removesuffix("Server").lower()


def _options(server: DavServer, dns: DnsServer | None = None) -> ClientOptions:
    return ClientOptions(ca_file=server.ca_file, dns_servers=None if dns is None else dns.servers())


def _assert_finds(found: Discovery, server: DavServer, names: list[str]) -> None:
    """The calendars made are found (a server may hold more: Cyrus makes a default one)
    as the connector will address them: `account_url` as an account's URL, `path` as a
    binding's calendar id."""
    home = urlsplit(found.account_url)
    assert f"{home.scheme}://{home.netloc}" == server.url
    account = AccountOrigin(found.account_url)
    by_path = {c.path: c for c in found.calendars}
    for name in names:
        calendar = by_path[server.collection_path(name)]
        assert calendar.display_name == name
        assert calendar.url == server.url + calendar.path
        assert account.calendar_url(calendar.path) == calendar.url
        assert calendar.components == frozenset({"VEVENT"})
        assert calendar.takes_events
        assert calendar.writable is True


@pytest.fixture
def two_calendars(family_server: DavServer) -> list[str]:
    names = [unique_name("found"), unique_name("found")]
    for name in names:
        family_server.create_collection(name)
    return names


def _set_colour(server: DavServer, path: str, colour: str) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/">'
        f"<D:set><D:prop><A:calendar-color>{colour}</A:calendar-color></D:prop></D:set>"
        "</D:propertyupdate>"
    ).encode()
    with server.http_client() as http:
        response = http.request(
            "PROPPATCH", path, content=body, headers={"Content-Type": "application/xml"}
        )
    assert response.status_code == 207, response.text


async def test_the_colour_a_calendar_app_gave(
    family_server: DavServer, two_calendars: list[str]
) -> None:
    server = family_server
    coloured, plain = (server.collection_path(name) for name in two_calendars)
    _set_colour(server, coloured, "#3366cc")

    found = await discover(server.url, server.username, server.password, options=_options(server))
    colours = {c.path: c.colour for c in found.calendars}
    assert colours[coloured] == "#3366CC"
    assert colours[plain] is None


async def test_from_the_server_url(family_server: DavServer, two_calendars: list[str]) -> None:
    server = family_server
    found = await discover(server.url, server.username, server.password, options=_options(server))
    _assert_finds(found, server, two_calendars)


@pytest.mark.parametrize("family_server", sorted(_WELL_KNOWN_PATHS), indirect=True)
async def test_from_the_well_known_redirect(
    family_server: DavServer, two_calendars: list[str]
) -> None:
    server = family_server
    with server.http_client() as http:
        redirect = http.request("PROPFIND", "/.well-known/caldav", headers={"Depth": "0"})
    assert redirect.is_redirect
    assert urlsplit(redirect.headers["Location"]).path == _WELL_KNOWN_PATHS[_family(server)]

    start = server.url + "/.well-known/caldav"
    found = await discover(start, server.username, server.password, options=_options(server))
    _assert_finds(found, server, two_calendars)


async def test_from_an_email_address(
    family_server: DavServer, two_calendars: list[str], dns_server: DnsServer
) -> None:
    server = family_server
    service = "_caldavs._tcp" if server.scheme == "https" else "_caldav._tcp"
    # The SRV target names 127.0.0.1: the HTTP client resolves names with the system's
    # resolver, not the test's DNS server.
    dns_server.add(f"{service}.example.org", "SRV", f"0 1 {server.port} 127.0.0.1.")
    context = _CONTEXT_PATHS.get(_family(server))
    if context is not None:
        dns_server.add(f"{service}.example.org", "TXT", f'"path={context}"')

    found = await discover(
        "ana@example.org", server.username, server.password, options=_options(server, dns_server)
    )
    _assert_finds(found, server, two_calendars)
    assert (f"{service}.example.org.", "SRV") in dns_server.queries


async def test_what_it_finds_is_an_account_the_connector_uses(
    family_server: DavServer, two_calendars: list[str]
) -> None:
    server = family_server
    found = await discover(server.url, server.username, server.password, options=_options(server))
    settings = Settings.model_validate(server.connector_settings(url=found.account_url))
    connector = build(settings)
    try:
        await connector.check()
        calendar = connector.calendar(server.collection_path(two_calendars[0]))
        now = datetime.now(UTC)
        assert await calendar.busy_time(now, now + timedelta(days=1)) == []
    finally:
        await connector.aclose()

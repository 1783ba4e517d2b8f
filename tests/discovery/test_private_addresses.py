"""Accounts typed by someone outside reach public addresses only, checked as each connection
is made: an SRV record naming this host, a redirect into a private network, a redirect to
another host, and a stored account whose host now resolves to a private address are each
refused in words, and the second server never sees the password (real local servers; DNS
from the test's own server)."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import replace

import httpx
import pytest
import trustme

from connectors import build_account
from connectors.caldav.discovery import ClientOptions, discover
from connectors.caldav.discovery_errors import ConfirmServerError, PrivateAddressError
from connectors.errors import PermanentError
from connectors.public_addresses import IPAddress, is_public, public_only_transport
from syncd.connect.caldav import PAGE_OPTIONS, find_calendars
from syncd.connect.problems import ConnectError
from tests.discovery.dns_server import DnsServer
from tests.discovery.scripted_http import Reply, ScriptedServer
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio
PRIVATE_HERE = "127.0.0.2"  # stands for a private network; 127.0.0.1 for the internet


def only_127_0_0_2_is_private(address: IPAddress) -> bool:
    return str(address) != PRIVATE_HERE


class Password:
    def read(self) -> str | None:
        return "pw"

    def write(self, secret: str) -> None:
        raise AssertionError("a CalDAV account never changes its password")


async def test_an_srv_record_naming_this_host_is_refused(dns_server: DnsServer) -> None:
    with ScriptedServer({}) as local:
        dns_server.add("_caldav._tcp.example.org", "SRV", f"0 1 {local.port} localhost.")
        options = ClientOptions(dns_servers=dns_server.servers(), timeout_seconds=5)
        with pytest.raises(PrivateAddressError, match=r"localhost resolves to (127\.0\.0\.1|::1)"):
            await discover("ana@example.org", "ana", "pw",
                           options=replace(options, allowed_addresses=is_public))
        assert local.seen == []
        with pytest.raises(ConnectError) as page:  # the connect page, as a person sees it
            await find_calendars("ana@example.org", "ana", "pw",
                                 replace(PAGE_OPTIONS, dns_servers=dns_server.servers()))
        assert (page.value.code, page.value.title) == ("private_address",
                                                       "This address cannot be used")
        assert local.seen == []
        with pytest.raises(Exception):  # noqa: B017, PT011 - any: it got there
            await discover("ana@example.org", "ana", "pw", options=options)
        assert local.seen, "without the check the SRV target is reached"


async def test_a_redirect_into_a_private_network_is_refused() -> None:
    with ScriptedServer({}, host=PRIVATE_HERE) as private:
        redirect = Reply(307, headers={"Location": f"{private.url}/dav/"})
        with ScriptedServer({"/dav/": redirect}) as public:
            options = ClientOptions(allowed_addresses=only_127_0_0_2_is_private)
            with pytest.raises(PrivateAddressError, match=r"127\.0\.0\.2 resolves to 127\.0\.0\.2"):
                await discover(f"{public.url}/dav/", "ana", "pw", options=options)
    assert [s.path for s in public.seen] == ["/dav/"]
    assert private.seen == []


async def test_a_redirect_to_another_host_is_refused_without_the_password() -> None:
    with ScriptedServer({}) as other:
        redirect = Reply(307, headers={"Location": f"http://localhost:{other.port}/dav/"})
        with ScriptedServer({"/dav/": redirect}) as typed:
            options = ClientOptions(allowed_addresses=only_127_0_0_2_is_private)
            with pytest.raises(ConfirmServerError, match="another server"):
                await discover(f"{typed.url}/dav/", "ana", "pw", options=options)
    assert other.seen == []


async def test_a_stored_account_whose_host_is_private_now_is_refused_at_each_connection() -> None:
    with ScriptedServer({}) as local:
        settings = {"kind": "caldav", "url": f"{local.url}/dav/", "username": "ana",
                    "allow_private_addresses": False}
        connector = build_account(settings, Password())
        try:
            with pytest.raises(PermanentError, match=r"127\.0\.0\.1, a loopback, private"):
                await connector.check()
        finally:
            await connector.aclose()
        assert local.seen == []
        allowed = build_account({**settings, "allow_private_addresses": True}, Password())
        try:
            with pytest.raises(Exception):  # noqa: B017, PT011 - any: it got there
                await allowed.check()
        finally:
            await allowed.aclose()
        assert local.seen, "the configuration's accounts (the default) reach this host"


async def test_the_connect_page_stores_its_accounts_as_public_only(
    dns_server: DnsServer, own_radicale: RadicaleServer
) -> None:
    """Found through an SRV record at a server taken for public here, the account the page
    would store reaches public addresses only: at its next connection 127.0.0.1 is refused."""
    own_radicale.create_collection("work")
    dns_server.add("_caldav._tcp.example.org", "SRV", f"0 1 {own_radicale.port} localhost.")
    options = replace(PAGE_OPTIONS, dns_servers=dns_server.servers(),
                      allowed_addresses=only_127_0_0_2_is_private)
    draft = await find_calendars("alice@example.org", own_radicale.username,
                                 own_radicale.password, options)
    assert draft.settings["allow_private_addresses"] is False
    assert [c.name for c in draft.calendars] == ["work"]
    connector = build_account(draft.settings, Password())
    try:
        with pytest.raises(PermanentError, match="a loopback, private or link-local address"):
            await connector.check()
    finally:
        await connector.aclose()


@pytest.mark.parametrize(("named", "trusted"), [("localhost", True), ("other.example", False)])
async def test_tls_is_verified_for_the_host_name_not_the_address(
    named: str, trusted: bool
) -> None:
    """The transport connects to the address it checked; the certificate must still name
    the host the URL names (a certificate for 127.0.0.1 alone would not do)."""
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(named).configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    with ScriptedServer({"/": Reply(200, b"hello")}, tls=server_tls) as server:
        transport = public_only_transport(lambda _: True, verify=client_tls)
        async with httpx.AsyncClient(transport=transport) as client:
            if trusted:
                answer = await client.get(f"https://localhost:{server.port}/")
                assert answer.text == "hello"
            else:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(f"https://localhost:{server.port}/")


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
    ("127.0.0.1", False), ("::1", False), ("10.1.2.3", False), ("192.168.0.10", False),
    ("172.16.5.4", False), ("169.254.169.254", False), ("fe80::1", False), ("fd00::1", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False), ("224.0.0.1", False),
])
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public

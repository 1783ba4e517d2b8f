"""Where discovery starts for what a person typed (RFC 6764), with DNS answered by the
test's own server."""

from __future__ import annotations

import socket

import pytest

from connectors.caldav.discovery_start import WELL_KNOWN, DnsServers, resolve_start
from tests.discovery.dns_server import DnsServer

pytestmark = pytest.mark.anyio


async def test_tls_service_first_then_plain_then_the_domain(dns_server: DnsServer) -> None:
    dns_server.add("_caldav._tcp.example.org", "SRV", "0 1 8008 plain.example.org.")
    dns_server.add("_caldavs._tcp.example.org", "SRV", "0 1 443 dav.example.org.")
    dns_server.add("_caldavs._tcp.example.org", "TXT", '"ttl=1" "path=/dav/ana/"')

    start = await resolve_start("Ana.Smith@Example.ORG", dns_server.servers())

    assert start.named_host == "example.org"
    assert start.candidates == (
        "https://dav.example.org/dav/ana/",
        f"http://plain.example.org:8008{WELL_KNOWN}",
        f"https://example.org{WELL_KNOWN}",
    )


async def test_records_in_priority_then_weight_order(dns_server: DnsServer) -> None:
    dns_server.add(
        "_caldavs._tcp.example.org", "SRV",
        "20 5 443 backup.example.org.", "10 1 443 light.example.org.",
        "10 9 8443 heavy.example.org.",
    )
    start = await resolve_start("example.org", dns_server.servers())
    assert start.candidates[:3] == (
        f"https://heavy.example.org:8443{WELL_KNOWN}",
        f"https://light.example.org{WELL_KNOWN}",
        f"https://backup.example.org{WELL_KNOWN}",
    )


async def test_a_service_declared_absent_or_no_records(dns_server: DnsServer) -> None:
    dns_server.add("_caldavs._tcp.example.org", "SRV", "0 0 0 .")
    dns_server.add("_caldav._tcp.example.org", "TXT", '"path=/ignored/"')  # no SRV beside it

    start = await resolve_start("ana@example.org", dns_server.servers())

    assert start.candidates == (f"https://example.org{WELL_KNOWN}",)
    assert ("_caldavs._tcp.example.org.", "SRV") in dns_server.queries


async def test_no_dns_server_falls_back_to_the_domain() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    start = await resolve_start("ana@example.org", DnsServers(("127.0.0.1",), port, 0.5))
    assert start.candidates == (f"https://example.org{WELL_KNOWN}",)


async def test_a_url_then_its_well_known_address() -> None:
    start = await resolve_start(" https://Cal.Example.org:8443/dav/ ")
    assert start.named_host == "cal.example.org"
    assert start.candidates == (
        "https://Cal.Example.org:8443/dav/", f"https://Cal.Example.org:8443{WELL_KNOWN}"
    )
    well_known = await resolve_start(f"https://example.org{WELL_KNOWN}")
    assert well_known.candidates == (f"https://example.org{WELL_KNOWN}",)

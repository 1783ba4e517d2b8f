"""Where a CalDAV discovery starts (RFC 6764): the URLs to try for what a person typed.

- An http(s) URL: that URL, then its origin's `/.well-known/caldav`.
- An email address or a bare domain: the domain's `_caldavs._tcp` SRV record (HTTPS),
  then `_caldav._tcp` (plain HTTP), each with the path of its TXT `path=` record or
  `/.well-known/caldav`; last `https://<domain>/.well-known/caldav`.

DNS goes through dnspython's resolver: the system's, or the name servers given
(`DnsServers`), so tests point it at a server of their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.SRV
from email_validator import EmailNotValidError, validate_email

from connectors.caldav.discovery_errors import InvalidStartError

WELL_KNOWN = "/.well-known/caldav"
# (service label, scheme): TLS first, as RFC 6764 section 3 prefers
_SERVICES = (("_caldavs._tcp", "https"), ("_caldav._tcp", "http"))
_DEFAULT_PORTS = {"https": 443, "http": 80}
DNS_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class DnsServers:
    """Name servers to ask instead of the system's (an address each, and one port)."""

    addresses: tuple[str, ...]
    port: int = 53
    timeout_seconds: float = DNS_TIMEOUT_SECONDS  # per lookup


@dataclass(frozen=True)
class Start:
    """The host the person named (it bounds where the password may go) and the URLs to try."""

    named_host: str
    candidates: tuple[str, ...]


async def resolve_start(start: str, dns_servers: DnsServers | None = None) -> Start:
    """The URLs to try, in order, for an address, a domain or a URL."""
    text = start.strip()
    if "://" in text:
        return _url_start(text)
    domain = _domain_of(text)
    resolver = _resolver(dns_servers)
    candidates = [*await _srv_candidates(resolver, domain), f"https://{domain}{WELL_KNOWN}"]
    return Start(domain, tuple(dict.fromkeys(candidates)))


def _url_start(url: str) -> Start:
    problem = InvalidStartError("the address must be an http:// or https:// URL with a host")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading the port validates it
    except ValueError:  # a malformed IPv6 address, a port out of range
        raise problem from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise problem
    if parts.username is not None or parts.password is not None:
        raise InvalidStartError("the URL must not contain a user name or password")
    well_known = f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}"
    return Start(parts.hostname, tuple(dict.fromkeys([url, well_known])))


def _domain_of(text: str) -> str:
    """The domain of an email address, or `text` itself when it is a domain name."""
    address = text if "@" in text else f"user@{text}"
    try:
        return validate_email(address, check_deliverability=False).ascii_domain.lower()
    except EmailNotValidError:
        raise InvalidStartError(
            "enter an email address, a domain or the server's https:// URL"
        ) from None


def _resolver(dns_servers: DnsServers | None) -> dns.asyncresolver.Resolver:
    if dns_servers is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(dns_servers.addresses)
        resolver.port = dns_servers.port
    resolver.lifetime = DNS_TIMEOUT_SECONDS if dns_servers is None else dns_servers.timeout_seconds
    return resolver


async def _srv_candidates(resolver: dns.asyncresolver.Resolver, domain: str) -> list[str]:
    """Both services' URLs, looked up side by side: a silent DNS costs one timeout."""
    found = await asyncio.gather(*(
        _service_candidates(resolver, f"{label}.{domain}", scheme) for label, scheme in _SERVICES
    ))
    return [url for urls in found for url in urls]


async def _service_candidates(
    resolver: dns.asyncresolver.Resolver, name: str, scheme: str
) -> list[str]:
    targets = await _srv_targets(resolver, name)
    if not targets:
        return []
    path = await _txt_path(resolver, name)
    return [_url(scheme, host, port, path) for host, port in targets]


async def _srv_targets(resolver: dns.asyncresolver.Resolver, name: str) -> list[tuple[str, int]]:
    """(host, port) of the SRV records at `name`, lowest priority first, then heaviest;
    none where there are none, or where the target "." says the service is absent."""
    answer = await _lookup(resolver, name, "SRV")
    records = sorted(
        (r for r in answer if isinstance(r, dns.rdtypes.IN.SRV.SRV)),
        key=lambda r: (r.priority, -r.weight),
    )
    targets = [(r.target.to_text(omit_final_dot=True), int(r.port)) for r in records]
    return [(host, port) for host, port in targets if host not in ("", ".")]


async def _txt_path(resolver: dns.asyncresolver.Resolver, name: str) -> str:
    """The context path of the TXT record's `path=` (RFC 6764 section 4), else the well-known."""
    for record in await _lookup(resolver, name, "TXT"):
        if not isinstance(record, dns.rdtypes.ANY.TXT.TXT):
            continue
        for chunk in record.strings:
            key, _, value = chunk.decode("utf-8", "replace").partition("=")
            if key.strip().lower() == "path" and value.startswith("/"):
                return value.strip()
    return WELL_KNOWN


async def _lookup(resolver: dns.asyncresolver.Resolver, name: str, kind: str) -> Sequence[object]:
    """The records of `kind` at `name`; none when the name or the record is missing, or
    DNS fails (no answer in time, a malformed one): the well-known fallback still applies."""
    try:
        return list(await resolver.resolve(name, kind))
    except dns.exception.DNSException:  # NXDOMAIN, NoAnswer, NoNameservers, timeouts
        return []


def _url(scheme: str, host: str, port: int, path: str) -> str:
    shown_host = f"[{host}]" if _is_ipv6(host) else host
    shown_port = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{shown_host}{shown_port}{path}"


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False

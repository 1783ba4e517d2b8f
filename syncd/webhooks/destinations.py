"""Where webhooks may go: public addresses, and what the operator allows by name or network.

A subscription's URL is chosen by whoever holds an API key; left alone it could
aim syncd's requests at the loopback, the private network or a cloud metadata
address. So a destination must be a public (globally routable, not multicast)
address unless `webhooks.allow_destinations` lists its host name or a network
holding it. The check runs where the connection is made (transport.py): the
host is resolved once, every address it resolves to must pass, and the
connection goes to that checked address, so a name that resolves differently
a moment later (DNS rebinding) gains nothing. A URL whose host is itself an
internal literal (127.0.0.1, localhost, [::1], 10.0.0.1, ...) is refused when
the subscription is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from syncd.config.webhooks import IPNetwork, host_name, parse_entry

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REFUSED = (
    "not an allowed webhook destination: loopback, private, link-local, multicast and "
    "reserved addresses need webhooks.allow_destinations"
)


class DestinationRefused(Exception):  # noqa: N818 - reads as what happened
    """The destination is internal and not allowed by the configuration."""


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class DestinationPolicy:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, entries: Iterable[str]) -> DestinationPolicy:
        parsed = [parse_entry(entry) for entry in entries]
        networks = tuple(p for p in parsed if not isinstance(p, str))
        return cls(networks, frozenset(p for p in parsed if isinstance(p, str)))

    def allows(self, host: str, address: IPAddress) -> bool:
        if host_name(host) in self.hosts or any(address in n for n in self.networks):
            return True
        return _public(address)

    def literal_problem(self, url: str) -> str | None:
        """Why a URL's host is refused as it is written; None when only resolving can tell."""
        host = host_name(urlsplit(url).hostname or "")
        if host in self.hosts:
            return None
        if host == "localhost" or host.endswith(".localhost"):
            return REFUSED
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: checked on every address it resolves to, when delivering
        return None if self.allows(host, address) else REFUSED

    async def checked_address(self, host: str, port: int) -> str:
        """The address to connect to: `host` resolved once, every address it has allowed.

        A name that does not resolve (now) is an OSError: a network error, tried again.
        """
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        if not addresses or not all(self.allows(host, a) for a in addresses):
            raise DestinationRefused(REFUSED)
        return str(addresses[0])

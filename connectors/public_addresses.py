"""Connections to public addresses only, checked where the connection is made.

An account whose address someone outside typed (syncd's connect page) must not
make this host reach its own network: a name resolving to a loopback, private,
link-local or otherwise non-global address is refused. A check of the name
before connecting is not enough: an SRV record or a redirect names another
host, and the name may resolve elsewhere at the next connection (DNS
rebinding). So the check sits in the HTTP transport: each new connection
resolves the host once, refuses it if any address it resolves to is not
allowed, and connects to the checked address itself (TLS still verifies the
certificate for the host name).

    transport = public_only_transport(verify=tls)        # an httpx transport
    client = httpx.AsyncClient(transport=transport, ...)

A refusal is an httpx.ConnectError caused by `PrivateAddressRefused`
(`refused_address(exc)` finds it). A client with this transport uses no proxy
from the environment: the proxy would resolve the name where syncd cannot check it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Whether a connection to an address may be made.
AddressCheck = Callable[[IPAddress], bool]


def is_public(address: IPAddress) -> bool:
    """A global unicast address (an IPv4-mapped IPv6 address judged as its IPv4 one)."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    found = mapped or address
    return found.is_global and not found.is_multicast


class PrivateAddressRefused(httpcore.ConnectError):
    """A connection to a host that resolves to an address not allowed."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, a loopback, private or link-local "
                         "address: refused")
        self.host = host
        self.address = address


async def checked_addresses(host: str, port: int, allowed: AddressCheck) -> list[str]:
    """The addresses `host` resolves to, all allowed; `PrivateAddressRefused` otherwise
    (an unknown name: httpcore.ConnectError caused by the socket.gaierror)."""
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise httpcore.ConnectError(str(error)) from error
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))
    for address in addresses:
        if not allowed(ipaddress.ip_address(address)):
            raise PrivateAddressRefused(host, address)
    return addresses


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses `allowed` accepts."""

    def __init__(self, allowed: AddressCheck = is_public) -> None:
        self._allowed = allowed
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await checked_addresses(host, port, self._allowed)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None  # getaddrinfo answers with one address at least
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no Unix sockets for accounts that reach public addresses only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_transport(allowed: AddressCheck = is_public,
                          **options: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport (`options` as httpx.AsyncHTTPTransport takes them: verify, limits)
    whose connections go to addresses `allowed` accepts only."""
    transport = httpx.AsyncHTTPTransport(**options)
    pool = transport._pool  # httpx offers no other way to name httpcore's network backend
    if not isinstance(pool, httpcore.AsyncConnectionPool):  # a proxy: cannot be checked
        raise ValueError("a transport through a proxy cannot check the addresses it reaches")
    pool._network_backend = PublicOnlyBackend(allowed)
    return transport


def refused_address(exc: BaseException) -> PrivateAddressRefused | None:
    """The refusal in `exc`'s chain of causes, if that is why it failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PrivateAddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

"""The HTTP transport of webhook deliveries: every connection to a checked address only.

httpcore opens connections through a network backend; this one resolves the
origin's host, checks every address (destinations.py) and connects to the
checked one. TLS still verifies the certificate for the URL's host name and
sends it as SNI, and the Host header is the URL's, so nothing else changes.
Connections are pooled per origin (scheme, host, port) as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
from collections.abc import AsyncIterator, Iterator

import httpcore
import httpx

from syncd.webhooks.destinations import DestinationPolicy, DestinationRefused

SocketOptions = typing.Iterable[httpcore.SOCKET_OPTION] | None


class CheckedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: DestinationPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
        local_address: str | None = None, socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                address = await self.policy.checked_address(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout("name lookup") from None
        except OSError as error:  # the name does not resolve (now): tried again later
            raise httpcore.ConnectError(type(error).__name__) from None
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """httpcore's errors as the httpx ones the caller handles."""
    try:
        yield
    except httpcore.TimeoutException as error:
        raise httpx.TimeoutException(type(error).__name__, request=request) from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        raise httpx.TransportError(type(error).__name__) from None


class _Body(httpx.AsyncByteStream):
    def __init__(self, request: httpx.Request, stream: typing.AsyncIterable[bytes]) -> None:
        self.request, self.stream = request, stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self.request):
            async for part in self.stream:
                yield part

    async def aclose(self) -> None:
        closing = getattr(self.stream, "aclose", None)
        if closing is not None:
            await closing()


class CheckedTransport(httpx.AsyncBaseTransport):
    def __init__(self, policy: DestinationPolicy, limits: httpx.Limits) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped(request):
            answer = await self.pool.handle_async_request(core)
        assert isinstance(answer.stream, typing.AsyncIterable)
        return httpx.Response(status_code=answer.status, headers=answer.headers,
                              stream=_Body(request, answer.stream), extensions=answer.extensions)

    async def aclose(self) -> None:
        await self.pool.aclose()

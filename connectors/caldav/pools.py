"""An account's requests spread over several httpx clients, each calendar on one of them.

httpcore's connection pool looks at every connection it holds on each request and
each response (is it closed, has it expired, has the server hung up: a socket
query per idle connection). With all of an account's calendars in one pool that
scan grows with the requests in flight, and took a fifth to a quarter of a
worker's CPU (bench/cost.py). Here each client's pool holds the connections of
a few calendars only: collections are dealt to the clients in turn as they are
first seen, and a calendar's requests always go through the same client.

Clients are made when a calendar first needs one: an account that is configured
but idle (one of a thousand stored accounts) holds no client and no connection
pool (and no TLS context of its own: connectors/transport.py shares them). Once
closed, the pools refuse requests (a `TransientError`: the caller looks its
connector up again and gets a fresh one).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from connectors.errors import TransientError

# Collections remembered for dealing; past that (a server naming objects in
# countless folders) a collection's client is chosen by its hash.
MAX_DEALT = 4096


class ClientPools:
    """`count` clients made by `make` when first needed, and which one a URL's calendar
    collection uses."""

    def __init__(self, make: Callable[[], httpx.AsyncClient], count: int) -> None:
        if count < 1:
            raise ValueError("at least one client")
        self._make = make
        self._clients: list[httpx.AsyncClient | None] = [None] * count
        self._dealt: dict[str, int] = {}
        self._closed = False

    @classmethod
    def of(cls, clients: Sequence[httpx.AsyncClient]) -> ClientPools:
        """Pools over clients made already."""
        pools = cls(lambda: clients[0], len(clients))
        pools._clients = list(clients)
        return pools

    @property
    def open_clients(self) -> int:
        return sum(client is not None for client in self._clients)

    def for_url(self, url: str) -> httpx.AsyncClient:
        if self._closed:
            raise TransientError("the account's connections were closed; looked up again")
        return self._client(self._index(url))

    def _index(self, url: str) -> int:
        count = len(self._clients)
        if count == 1:
            return 0
        collection = collection_of(urlsplit(url).path)
        index = self._dealt.get(collection)
        if index is not None:
            return index
        if len(self._dealt) >= MAX_DEALT:
            return zlib.crc32(collection.encode()) % count
        index = self._dealt[collection] = len(self._dealt) % count
        return index

    def _client(self, index: int) -> httpx.AsyncClient:
        client = self._clients[index]
        if client is None:
            client = self._clients[index] = self._make()
        return client

    async def aclose(self) -> None:
        self._closed = True
        clients, self._clients = self._clients, [None] * len(self._clients)
        for client in clients:
            if client is not None:
                await client.aclose()


def collection_of(path: str) -> str:
    """The collection a path is in, or is: "/cal/a.ics" and "/cal/" are both in "/cal/"."""
    return path if path.endswith("/") else path.rpartition("/")[0] + "/"

"""An account's requests spread over several httpx clients, each calendar on one of them.

httpcore's connection pool looks at every connection it holds on each request and
each response (is it closed, has it expired, has the server hung up: a socket
query per idle connection). With all of an account's calendars in one pool that
scan grows with the requests in flight, and took a fifth to a quarter of a
worker's CPU (bench/cost.py). Here each client's pool holds the connections of
a few calendars only: collections are dealt to the clients in turn as they are
first seen, and a calendar's requests always go through the same client.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

# Collections remembered for dealing; past that (a server naming objects in
# countless folders) a collection's client is chosen by its hash.
MAX_DEALT = 4096


class ClientPools:
    """The clients, and which one a URL's calendar collection uses."""

    def __init__(self, clients: Sequence[httpx.AsyncClient]) -> None:
        if not clients:
            raise ValueError("at least one client")
        self._clients = list(clients)
        self._dealt: dict[str, httpx.AsyncClient] = {}

    def for_url(self, url: str) -> httpx.AsyncClient:
        if len(self._clients) == 1:
            return self._clients[0]
        collection = collection_of(urlsplit(url).path)
        client = self._dealt.get(collection)
        if client is not None:
            return client
        if len(self._dealt) >= MAX_DEALT:
            return self._clients[zlib.crc32(collection.encode()) % len(self._clients)]
        client = self._dealt[collection] = self._clients[len(self._dealt) % len(self._clients)]
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


def collection_of(path: str) -> str:
    """The collection a path is in, or is: "/cal/a.ics" and "/cal/" are both in "/cal/"."""
    return path if path.endswith("/") else path.rpartition("/")[0] + "/"

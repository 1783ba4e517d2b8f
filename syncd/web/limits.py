"""Slowing down whoever keeps failing: wrong manage tokens, bad forms, bad CSRF tokens.

A token has 2^128 or more possible values, so guessing is hopeless anyway;
the limit keeps a guesser (or a broken client) from costing the database
work. Each client may fail `failures_per_minute` times in any sliding minute;
beyond that every manage request from it gets a 429 with Retry-After until
its oldest failure is a minute old.

The count lives in this process's memory: several web processes each keep
their own (a client can fail N times per process), and a restart forgets it.
The client is the peer address uvicorn reports; behind a reverse proxy that
is the real client only when uvicorn trusts the proxy's X-Forwarded-For
(`--forwarded-allow-ips`, 127.0.0.1 by default).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Scope

WINDOW_SECONDS = 60.0
# Bounded memory under a flood from many addresses: the least recently failing
# clients are forgotten first.
MAX_TRACKED_CLIENTS = 50_000


class FailureLimiter:
    """Per-client failure times within the last minute."""

    def __init__(
        self,
        failures_per_window: int,
        *,
        window_seconds: float = WINDOW_SECONDS,
        max_clients: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = failures_per_window
        self.window = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it is not blocked."""
        times = self._recent(client)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + self.window - self.clock()))

    def record_failure(self, client: str) -> None:
        times = self._failures.pop(client, None) or deque(maxlen=self.limit)
        times.append(self.clock())
        self._failures[client] = times  # now the most recently failing client
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times


FAILURE_STATUSES = frozenset({400, 403, 404, 405})
TooMany = Callable[[Scope, int], Response]


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"

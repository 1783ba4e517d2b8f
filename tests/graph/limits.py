"""Outlook's per-mailbox limits and the counters tests read afterwards.

Enforced per app and mailbox, as learn.microsoft.com/graph/throttling-limits lists for
Outlook: 4 concurrent requests (the 5th is 429 ApplicationThrottled "Application is
over its MailboxConcurrency limit.") and 10,000 requests per 10 minutes. A $batch item
counts like a request of its own.

`Stats.early_requests` counts requests (and batch items) that reached a mailbox before
the Retry-After the double last gave for that mailbox had elapsed: a well-behaved client
keeps it at 0.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.graph.errors import GraphError


@dataclass
class Stats:
    requests: int = 0  # HTTP requests to Graph (/v1.0; a $batch is one)
    token_requests: int = 0  # requests to the token endpoint
    requests_by_mailbox: Counter[str] = field(default_factory=Counter)  # requests + batch items
    peak_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    throttled: int = 0  # 429 answers, batch items included
    early_requests: int = 0
    batch_items: int = 0
    requests_in_flight: int = 0  # HTTP requests to Graph being answered now
    peak_requests_in_flight: int = 0  # all mailboxes together: bounded by the client's pool
    log: list[tuple[float, str, str, int]] = field(
        default_factory=list
    )  # (time, method, path, status)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    on_reset: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def reset(self) -> None:
        """Zero every counter and forget the Retry-Afters given so far."""
        with self.lock:
            self.requests = 0
            self.token_requests = 0
            self.requests_by_mailbox.clear()
            self.peak_in_flight.clear()
            self.throttled = 0
            self.early_requests = 0
            self.batch_items = 0
            self.peak_requests_in_flight = self.requests_in_flight
            self.log.clear()
        for hook in self.on_reset:
            hook()


class Limits:
    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.concurrency = 4
        self.rate_limit = (10_000, 600.0)  # requests per window seconds, per app and mailbox
        self._lock = stats.lock
        stats.on_reset.append(self.reset)
        self._in_flight: Counter[str] = Counter()
        self._waits: dict[str, deque[tuple[float, float]]] = defaultdict(lambda: deque(maxlen=16))
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def arrive(self, mailbox: str, arrived: float) -> None:
        """Count a request that reached `mailbox` at `arrived` (time.monotonic())."""
        with self._lock:
            self.stats.requests_by_mailbox[mailbox] += 1
            # Early: sent after a Retry-After was given and before it elapsed. Items of one
            # $batch arrive together, so an item throttled within the batch does not make
            # its siblings early.
            if any(given <= arrived < until for given, until in self._waits[mailbox]):
                self.stats.early_requests += 1

    def enter(self, mailbox: str, app: str, retry_after: float) -> None:
        """Admit a request to `mailbox` or raise 429; pair with `leave` when admitted."""
        with self._lock:
            self._in_flight[mailbox] += 1
            count = self._in_flight[mailbox]
            self.stats.peak_in_flight[mailbox] = max(self.stats.peak_in_flight[mailbox], count)
            if count > self.concurrency:
                self._in_flight[mailbox] -= 1
                raise throttled("Application is over its MailboxConcurrency limit.", retry_after)
            if not self._within_rate(mailbox, app):
                self._in_flight[mailbox] -= 1
                raise throttled("Application is over its MailboxRequestRate limit.", retry_after)

    def _within_rate(self, mailbox: str, app: str) -> bool:
        limit, window = self.rate_limit
        now = time.monotonic()
        stamps = self._windows[(app, mailbox)]
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= limit:
            return False
        stamps.append(now)
        return True

    def leave(self, mailbox: str) -> None:
        with self._lock:
            self._in_flight[mailbox] -= 1

    def told_to_wait(self, mailbox: str, seconds: float) -> None:
        """Remember a Retry-After given for `mailbox`."""
        with self._lock:
            now = time.monotonic()
            self._waits[mailbox].append((now, now + seconds))

    def reset(self) -> None:
        with self._lock:
            self._waits.clear()
            self._windows.clear()


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": f"{seconds:g}"}


def throttled(message: str, retry_after: float) -> GraphError:
    return GraphError(429, "ApplicationThrottled", message, retry_after_header(retry_after))


def unavailable(retry_after: float) -> GraphError:
    return GraphError(
        503, "ServiceUnavailable", "Service Unavailable", retry_after_header(retry_after)
    )

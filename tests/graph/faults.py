"""Faults a test injects into the double's answers to mailbox requests.

    double.faults.throttle_rate = 0.3      # 429 ApplicationThrottled + Retry-After
    double.faults.unavailable_rate = 0.05  # 503 + Retry-After
    double.faults.timeout_rate = 0.1       # the request hangs until the client gives up
    double.faults.drop_after_commit = 2    # next 2 POST creates happen, then the connection drops
    double.faults.batch_throttle_rate = 0.5  # a $batch is 424 as a whole, no items run
    double.faults.only_mailbox = "anna@contoso.test"
    double.faults.seed(7)

Faults apply to requests addressed to a mailbox (/users/{id}/...) and to each $batch
item on its own; the token endpoint and /subscriptions are never faulted. A hanging
request is not performed: it waits until the client disconnects (or `hang_seconds`),
then the connection is closed without an answer.
"""

from __future__ import annotations

import random
import threading


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(0)
        self.clear()

    def clear(self) -> None:
        self.throttle_rate = 0.0
        self.retry_after_seconds = 0.2
        self.unavailable_rate = 0.0
        self.timeout_rate = 0.0
        self.hang_seconds = 30.0
        self.drop_after_commit = 0
        self.batch_throttle_rate = 0.0
        self.only_mailbox: str | None = None

    def seed(self, value: int) -> None:
        with self._lock:
            self._random.seed(value)

    def applies_to(self, *names: str) -> bool:
        """Whether faults apply to the mailbox known by `names` (its UPN and its id)."""
        only = self.only_mailbox
        return only is None or only.lower() in {name.lower() for name in names}

    def pick(self, *mailbox: str) -> str | None:
        """The fault for the next request to `mailbox`: throttle, unavailable, timeout, None."""
        if not self.applies_to(*mailbox):
            return None
        with self._lock:
            draw = self._random.random()
        for kind, rate in (
            ("throttle", self.throttle_rate),
            ("unavailable", self.unavailable_rate),
            ("timeout", self.timeout_rate),
        ):
            if draw < rate:
                return kind
            draw -= rate
        return None

    def throttles_batch(self) -> bool:
        """Whether the next $batch is refused as a whole (424 without items)."""
        with self._lock:
            return self._random.random() < self.batch_throttle_rate

    def take_drop(self, *mailbox: str) -> bool:
        """Whether this create's answer is to be dropped (consumes one of drop_after_commit)."""
        with self._lock:
            if self.drop_after_commit <= 0 or not self.applies_to(*mailbox):
                return False
            self.drop_after_commit -= 1
            return True

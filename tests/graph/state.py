"""Everything the double's handlers share: store, directory, limits, faults, stats."""

from __future__ import annotations

import asyncio
import threading
import time

from tests.graph.auth import Directory
from tests.graph.delta import DeltaTokens
from tests.graph.faults import Faults
from tests.graph.limits import Limits, Stats
from tests.graph.notifier import Notifier
from tests.graph.store import Store
from tests.graph.subscriptions import MAX_MINUTES, Subscription


class State:
    def __init__(self) -> None:
        self.store = Store()
        self.directory = Directory()
        self.stats = Stats()
        self.stats_lock = self.stats.lock
        self.limits = Limits(self.stats)
        self.faults = Faults()
        self.latency_seconds = 0.0
        self.base_url = "https://127.0.0.1"
        self.stopping = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, while it runs
        self.delta = DeltaTokens()
        self.notifier = Notifier()
        self.subscriptions: dict[str, Subscription] = {}
        self.subscription_max_minutes = MAX_MINUTES
        self.undocumented_forms = False  # tests/graph/forms.py
        # False: a mailbox never added is 404 ErrorInvalidUser, as at Graph; True (the
        # default, which most tests rely on): it is made on first use.
        self.mailboxes_on_demand = True

    @property
    def graph_url(self) -> str:
        return self.base_url + "/v1.0"

    def log(self, method: str, path: str, status: int) -> None:
        with self.stats_lock:
            self.stats.log.append((time.time(), method, path, status))

    def count_request(self) -> None:
        """A Graph request arrives; pair with `request_answered`."""
        with self.stats_lock:
            self.stats.requests += 1
            self.stats.requests_in_flight += 1
            peak = max(self.stats.peak_requests_in_flight, self.stats.requests_in_flight)
            self.stats.peak_requests_in_flight = peak

    def request_answered(self) -> None:
        with self.stats_lock:
            self.stats.requests_in_flight -= 1

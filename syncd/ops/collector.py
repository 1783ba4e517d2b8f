"""Gauges read from the database at scrape time: the backlog of the whole deployment.

The numbers describe the shared database, so every process reports the same
ones: scrape them from one process (or keep `metrics.database_gauges` on in
only one). A reading is cached for `metrics.database_cache_seconds`, so
scrapes of several Prometheus servers cost one set of queries, and runs in the
listener's thread, never on the event loop. A failed reading gives
`syncd_database_scrape_success 0` and no stale numbers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from syncd.ops import samples
from syncd.ops.samples import MirrorBacklog, Queue, Reading
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.metrics")
ACCOUNT_LABELS = ["connector", "account"]  # the connector's kind; its [connectors.<name>]
NOTHING = Reading({}, {}, Queue({}, None), Queue({}, None))


class DatabaseCollector:
    """A prometheus_client collector; `kinds` maps each configured account to its kind."""

    def __init__(
        self,
        engine: Engine,
        kinds: Mapping[str, str],
        *,
        cache_seconds: float = 5.0,
        timeout_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.kinds = dict(kinds)
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._taken_at = -float("inf")
        self._reading: Reading | None = None
        self._duration = 0.0

    def describe(self) -> Iterable[Metric]:
        return [*gauges(NOTHING, {}, utcnow()), *self._health()]

    def collect(self) -> Iterable[Metric]:
        reading = self._cached_reading()
        found = gauges(reading, self.kinds, utcnow()) if reading is not None else []
        return [*found, *self._health()]

    def _cached_reading(self) -> Reading | None:
        with self._lock:  # concurrent scrapes wait for one reading instead of each taking one
            if time.monotonic() - self._taken_at >= self.cache_seconds:
                self._take_reading()
            return self._reading

    def _take_reading(self) -> None:
        started = time.monotonic()
        try:
            with self.engine.connect() as connection:
                reading: Reading | None = samples.read(connection, utcnow(), self.timeout_seconds)
        except SQLAlchemyError as error:
            if self._reading is not None or self._taken_at == -float("inf"):
                log.warning("database gauges unavailable: %s", type(error).__name__)
            reading = None
        self._reading, self._taken_at = reading, time.monotonic()
        self._duration = self._taken_at - started

    def _health(self) -> list[Metric]:
        success = GaugeMetricFamily(
            "syncd_database_scrape_success",
            "1 if the last reading of the database gauges succeeded, else 0",
            value=0 if self._reading is None else 1,
        )
        duration = GaugeMetricFamily(
            "syncd_database_scrape_duration_seconds",
            "How long the last reading of the database gauges took",
            value=self._duration,
        )
        return [success, duration]


def gauges(reading: Reading, kinds: Mapping[str, str], now: datetime) -> list[Metric]:
    """Every gauge, with a zero for each configured account and state that has no rows."""
    return [*_mirror_gauges(reading, kinds, now), *_queue_gauges(reading, now)]


def _mirror_gauges(reading: Reading, kinds: Mapping[str, str], now: datetime) -> list[Metric]:
    pending = GaugeMetricFamily(
        "syncd_mirrors_pending",
        "Events waiting to be written, moved or deleted",
        labels=ACCOUNT_LABELS,
    )
    dead = GaugeMetricFamily(
        "syncd_mirrors_dead_lettered",
        "Events given up on (GET /api/v1/mirrors?state=dead)",
        labels=ACCOUNT_LABELS,
    )
    age = GaugeMetricFamily(
        "syncd_mirrors_oldest_pending_age_seconds",
        "Since the booking change that has waited longest for its calendar write (0: none waits)",
        labels=ACCOUNT_LABELS,
    )
    bindings = GaugeMetricFamily(
        "syncd_calendar_bindings",
        "Bound calendars by state: inactive, auth_error (credentials refused), "
        "paused (after an outage), leased (being worked), idle",
        labels=[*ACCOUNT_LABELS, "state"],
    )
    for account in sorted({*kinds, *reading.mirrors, *(a for a, _ in reading.bindings)}):
        labels = [kinds.get(account, "unconfigured"), account]
        backlog = reading.mirrors.get(account, MirrorBacklog())
        pending.add_metric(labels, backlog.pending)
        dead.add_metric(labels, backlog.dead)
        age.add_metric(labels, _age(backlog.oldest_change, now))
        for state in samples.BINDING_STATES:
            bindings.add_metric([*labels, state], reading.bindings.get((account, state), 0))
    return [pending, dead, age, bindings]


def _queue_gauges(reading: Reading, now: datetime) -> list[Metric]:
    mail = _queue_pair(
        ("syncd_mail_outbox_messages", "Messages in the mail outbox by state"),
        ("syncd_mail_outbox_oldest_age_seconds",
         "Since the oldest message still queued or sending was queued (0: none)"),
        samples.MAIL_STATES, reading.mail, now,
    )
    hooks = _queue_pair(
        ("syncd_webhook_deliveries", "Webhook deliveries not yet delivered, by state"),
        ("syncd_webhook_oldest_pending_age_seconds",
         "Since the oldest pending delivery was queued (0: none)"),
        samples.WEBHOOK_STATES, reading.webhooks, now,
    )
    return [*mail, *hooks]


def _queue_pair(
    counted: tuple[str, str], oldest: tuple[str, str], states: Iterable[str], queue: Queue,
    now: datetime,
) -> list[Metric]:
    """A queue's rows by state, and the age of its oldest waiting row: (name, help) each."""
    by_state = GaugeMetricFamily(*counted, labels=["state"])
    for state in states:
        by_state.add_metric([str(state)], queue.counts.get(state, 0))
    return [by_state, GaugeMetricFamily(*oldest, value=_age(queue.oldest_waiting, now))]


def _age(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())

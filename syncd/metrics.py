"""Prometheus metrics. Labels are bounded sets: never a booking id or an address."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MIRROR_WRITES = Counter(
    "syncd_mirror_writes_total",
    "Calendar writes (create, update, delete) by connector kind and outcome",
    ["connector", "outcome"],
)
MIRROR_WRITE_SECONDS = Histogram(
    "syncd_mirror_write_seconds",
    "Time to converge one mirror against its calendar",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CALENDAR_PAUSES = Counter(
    "syncd_calendar_pauses_total",
    "Times a whole calendar was held back after an outage or refused credentials",
    ["connector"],
)
DEAD_LETTERS = Counter(
    "syncd_mirror_dead_letters_total",
    "Mirrors given up on after their last attempt or a permanent error",
    ["connector"],
)

"""The worker loop's heartbeat as a gauge, for an alert on a worker that stopped going round.

Served only by a process that runs the worker. The metrics listener answers from
threads of its own, so a loop stuck on the event loop still shows here, its age
growing, where /readyz would fail. Before the loop's first round the age counts
from when the heartbeat was made (the process's start), so a worker that never
starts is seen too.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from syncd.ops.health import Heartbeat

NAME = "syncd_worker_last_pass_age_seconds"
HELP = (
    "Seconds since this process's worker loop last went round "
    "(since the process started, before its first round)"
)


class WorkerHeartbeatCollector:
    """A prometheus_client collector reading `heartbeat` at every scrape."""

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(NAME, HELP, value=0.0)]

    def collect(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(NAME, HELP, value=self.age_seconds())]

    def age_seconds(self) -> float:
        silence = self.heartbeat.seconds_since()
        return self.heartbeat.seconds_since_start() if silence is None else silence

"""syncd_worker_last_pass_age_seconds: the worker loop's heartbeat, served where a worker runs."""

from __future__ import annotations

import httpx
import pytest

from syncd.ops.health import Heartbeat
from syncd.ops.listener import MetricsListener, process_registry
from syncd.ops.worker_gauge import WorkerHeartbeatCollector
from syncd.runtime import Runtime
from tests.clocks import SteppedClock
from tests.ops.conftest import registry_samples, samples

NAME = "syncd_worker_last_pass_age_seconds"


def test_the_age_counts_from_the_start_until_the_first_round_then_from_the_last() -> None:
    clock = SteppedClock()
    heartbeat = Heartbeat(clock)
    collector = WorkerHeartbeatCollector(heartbeat)
    clock.advance(0.2)
    # a worker that never went round ages from the start
    assert collector.age_seconds() == pytest.approx(0.2)
    heartbeat.beat()
    assert collector.age_seconds() == 0
    clock.advance(0.3)
    assert collector.age_seconds() == pytest.approx(0.3)


def test_a_process_with_a_worker_serves_the_age_and_one_without_does_not(
    runtime: Runtime,
) -> None:
    heartbeat = Heartbeat()
    heartbeat.beat()
    with_worker = process_registry(runtime, heartbeat)
    [sample] = registry_samples(with_worker, NAME)
    assert 0 <= sample.value < 5
    assert registry_samples(process_registry(runtime, None), NAME) == []


def test_a_stuck_loop_shows_as_a_growing_age_on_the_listener(runtime: Runtime) -> None:
    clock = SteppedClock()
    heartbeat = Heartbeat(clock)
    heartbeat.beat()
    listener = MetricsListener("127.0.0.1", 0, process_registry(runtime, heartbeat), None)
    listener.start()
    try:
        first = _age(listener)
        clock.advance(0.5)  # nothing beats: the loop is "stuck"
        second = _age(listener)
        heartbeat.beat()
        third = _age(listener)
    finally:
        listener.stop()
    assert second >= first + 0.5
    assert third < second


def _age(listener: MetricsListener) -> float:
    exposition = httpx.get(listener.url + "/metrics").text
    [sample] = samples(exposition, NAME)
    return sample.value

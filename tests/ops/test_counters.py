"""Throttles are counted with the wait the server asked for; other failures are not."""

from __future__ import annotations

from prometheus_client import REGISTRY

from syncd import metrics
from syncd.errors import FailureScope, TransientError


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_retry_after_counts_as_a_throttle_with_its_wait() -> None:
    throttled = {"connector": "ops-test", "scope": "calendar"}
    before = sample("syncd_remote_throttled_total", **throttled)
    waited = sample("syncd_remote_throttle_wait_seconds_total", connector="ops-test")
    metrics.count_throttle(
        "ops-test", TransientError("429", retry_after=2.5, scope=FailureScope.CALENDAR)
    )
    metrics.count_throttle("ops-test", TransientError("timed out"))  # no Retry-After: no throttle
    assert sample("syncd_remote_throttled_total", **throttled) == before + 1
    assert sample("syncd_remote_throttle_wait_seconds_total", connector="ops-test") == waited + 2.5
    assert sample("syncd_remote_throttled_total", connector="ops-test", scope="item") == 0

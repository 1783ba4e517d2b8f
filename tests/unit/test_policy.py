from __future__ import annotations

from syncd.retry_policy import RetryPolicy


def test_backoff_grows_exponentially_up_to_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, max_seconds=60.0)
    delays = [policy.delay(attempt) for attempt in range(1, 12)]
    assert 1.0 <= delays[0] <= 2.0
    assert 4.0 <= delays[2] <= 5.0
    assert all(d <= 60.0 for d in delays)
    assert delays[-1] == 60.0


def test_retry_after_is_never_undercut() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=0.1, max_seconds=1.0)
    assert policy.delay(1, retry_after=7.5) == 7.5
    assert policy.delay(1, retry_after=0.01) >= 0.1


def test_gives_up_after_the_configured_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=1)
    assert not policy.gives_up_after(2)
    assert policy.gives_up_after(3)


def test_zero_base_means_no_wait() -> None:
    assert RetryPolicy(max_attempts=3, base_seconds=0, max_seconds=0).delay(5) == 0.0

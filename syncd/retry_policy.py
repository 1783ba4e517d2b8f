"""When to try again: exponential backoff with jitter, never sooner than the server asks."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        backoff = _backoff_seconds(self.base_seconds, self.max_seconds, attempt)
        return max(backoff, retry_after or 0.0)

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


def _backoff_seconds(base: float, ceiling: float, attempt: int) -> float:
    if base <= 0:
        return 0.0
    wait = wait_exponential_jitter(multiplier=base, max=ceiling, jitter=base)
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return float(wait(state))

"""When to try again: exponential backoff with jitter, never sooner than the server asks.

One policy for the three queues (mirrors, mail, webhook deliveries), with the
connectors' backoff (connectors/backoff.py) between attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.backoff import backoff_seconds


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        backoff = backoff_seconds(attempt, self.base_seconds, self.max_seconds)
        return max(backoff, retry_after or 0.0)

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

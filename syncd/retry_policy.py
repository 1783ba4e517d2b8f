"""When to try again: exponential backoff with jitter, never sooner than the server asks.

One policy for the three queues (mirrors, mail, webhook deliveries). The `n`-th
consecutive failure waits `base x 2^(n-1)` plus up to `base` of jitter (so that
many failures at once do not all come back at once), at most `max_seconds`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# 2^64 times any base is beyond every ceiling; a larger power only risks an overflow
_LARGEST_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        return max(self._backoff(attempt), retry_after or 0.0)

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

    def _backoff(self, attempt: int) -> float:
        if self.base_seconds <= 0:
            return 0.0
        exponent = min(max(attempt - 1, 0), _LARGEST_EXPONENT)
        jitter = random.uniform(0, self.base_seconds)  # noqa: S311  # spreading, not a secret
        grown = self.base_seconds * 2.0**exponent + jitter
        return max(0.0, min(grown, self.max_seconds))

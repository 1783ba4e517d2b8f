"""How long to wait after failures: exponential backoff with jitter.

The `n`-th consecutive failure waits `base x 2^(n-1)` plus up to `base` of
jitter (so that many failures at once do not all come back at once), at most
`ceiling`. Used by the connectors between throttled requests and by syncd's
durable queues between attempts (syncd/retry_policy.py).
"""

from __future__ import annotations

import random

# 2^64 times any base is beyond every ceiling; a larger power only risks an overflow
_LARGEST_EXPONENT = 64


def backoff_seconds(attempt: int, base: float, ceiling: float) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
    if base <= 0:
        return 0.0
    exponent = min(max(attempt - 1, 0), _LARGEST_EXPONENT)
    jitter = random.uniform(0, base)  # noqa: S311  # spreading, not a secret
    return max(0.0, min(base * 2.0**exponent + jitter, ceiling))

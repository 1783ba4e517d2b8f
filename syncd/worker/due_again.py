"""A calendar pass's own failed writes, by when each comes due again.

A pass claims many writes at once and starts them as slots free up. A write
that failed comes due again after its backoff, usually long before the rest of
the claim is under way; left to the store, it would be claimed only once the
whole claim had started, and every retry of a pass would land at its end, where
a retry failing again holds its calendar up alone. So the pass claims again as
soon as one of its retries comes due, and starts what it finds first.
"""

from __future__ import annotations

import time


class DueAgain:
    def __init__(self) -> None:
        self._due: dict[int, float] = {}  # mirror id → when due, on the monotonic clock

    def add(self, mirror_id: int, due_at: float) -> None:
        self._due[mirror_id] = due_at

    def due(self) -> bool:
        """Whether a retry has come due and the pass should claim before it starts more."""
        return self.seconds_to_next() == 0.0

    def seconds_to_next(self) -> float | None:
        """Until the next retry comes due; None when none waits."""
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - time.monotonic())

    def claimed(self, claimed: set[int], busy: set[int], looked_at: float) -> None:
        """Forget the retries a claim begun at `looked_at` took, and those due by then that
        it did not find: gone from the store's queue (written by a change, given up). One
        still in flight (its failure being recorded), or due only since, waits for the next."""
        self._due = {
            mirror_id: due_at
            for mirror_id, due_at in self._due.items()
            if mirror_id not in claimed and (due_at > looked_at or mirror_id in busy)
        }

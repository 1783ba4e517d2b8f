"""Whether a calendar's server as a whole is failing, judged from its recent requests.

A transient error of one request backs off that one event; the calendar is
paused only when most of its recent requests failed (a server answering 503 to
everything, resetting every connection), or at once when the connector says
the whole server is out (connection refused, throttled, Retry-After).
"""

from __future__ import annotations

from collections import deque

WINDOW = 6  # recent requests looked at
FAILING = 5  # of which this many failed: the server is failing, not a request


class RecentRequests:
    """The outcomes of a calendar's last WINDOW requests."""

    def __init__(self) -> None:
        self._failed: deque[bool] = deque(maxlen=WINDOW)

    def succeeded(self) -> None:
        self._failed.append(False)

    def failed(self) -> bool:
        """Count a transient failure; whether the server as a whole is now failing."""
        self._failed.append(True)
        return sum(self._failed) >= FAILING

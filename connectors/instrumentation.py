"""What a connector reports of its traffic, for whoever counts it.

A connector reports to the observer installed for its kind; so does syncd of
the kind's push notifications and subscriptions, which it handles for the kind. Until the process
installs one (the daemon installs its Prometheus counters when it starts),
reports go nowhere, so a connector runs, and is tested, on its own.
"""

from __future__ import annotations


class Observer:
    """Every report a connector makes; this one ignores them all."""

    def request_sent(self, form: str) -> None:
        """A request left; `form` is "single", or "batch" for several sent as one."""

    def request_not_sent(self) -> None:
        """A request could not leave: no connection from the pool, or connecting failed."""

    def throttled(self, status: int) -> None:
        """An answer (a request's or one item of a batch) asked to slow down."""

    def throttle_waited(self, seconds: float) -> None:
        """Requests waited `seconds` for a Retry-After (or a backoff) to pass."""

    def fell_back(self, form: str) -> None:
        """The server refused request form `form`, and a documented one took its place."""

    def notified(self, notice: str, outcome: str, count: int) -> None:
        """`count` pushed notices arrived (connectors/push.py): `notice` "change", or
        "lifecycle" (about the subscription); `outcome` "accepted", or "rejected" (an
        unknown subscription or a wrong client state)."""

    def subscription_kept(self, action: str, outcome: str) -> None:
        """A push subscription was made or renewed (`action` "create", "renew"):
        `outcome` "ok" or "failed"."""


_IGNORED = Observer()
_observers: dict[str, Observer] = {}


def install(kind: str, observer: Observer) -> None:
    """Send the reports of connectors of `kind` to `observer` from now on."""
    _observers[kind] = observer


def observer(kind: str) -> Observer:
    """Whom connectors of `kind` report to: the observer installed, else one ignoring all."""
    return _observers.get(kind, _IGNORED)

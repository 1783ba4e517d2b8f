"""The secret of a data account, held by the caller (syncd keeps it encrypted).

Declared here until connectors/__init__.py carries the shared `Credential`
(issue 21's design); the two are the same Protocol, so either is accepted.
"""

from __future__ import annotations

from typing import Protocol


class Credential(Protocol):
    """An account's secret held by the caller (syncd: encrypted in its database)."""

    def read(self) -> str | None:
        """MSAL's serialized token cache of a delegated account; None if none is stored."""
        ...

    def write(self, secret: str) -> None:
        """The connector changed the token cache (a refresh): persist it.

        Called in MSAL's worker thread, never on the event loop (it may block on a
        database), one call at a time per connector. A write that raises is logged
        without its message and offered again with the next token.
        """
        ...

"""The session of a syncd process, and what it carries into every transaction.

The store knows neither notifications, webhooks nor self-service; the code that
builds the process (syncd.wiring) hands in a `TransactionHooks` (the listeners
told of each booking change, the provider of a booking's manage link) and the
runtime its `[manage]` settings. Both are required arguments of `SyncdSession`,
the class the runtime's sessionmaker makes, and code inside a transaction that
needs them takes a `SyncdSession`: mypy checks that every caller has one, and a
plain `Session` has neither (an AttributeError, never a silent default).

What stays in `session.info` is per-transaction scratch, as SQLAlchemy means it:
the wake-up flags (`syncd.wakeup.OUTBOX_DIRTY`, `syncd.store.mirrors.DIRTY_BINDINGS`)
that the after-commit hook reads, the conflicts opened and still to be announced
(syncd.reconcile.conflicts), and two caches of rows read in this transaction
(syncd.store.catalog, syncd.notify.preferences). Each is set and cleared within
one transaction; none is configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from syncd.config.manage import ManageSettings
from syncd.store.changes import BookingChange
from syncd.store.models import Booking


class SyncdSession(Session):
    """A session that knows its process's transaction hooks and manage settings."""

    def __init__(
        self,
        bind: Engine | Connection | None = None,
        *,
        hooks: TransactionHooks,
        manage: ManageSettings,
        **options: Any,
    ) -> None:
        super().__init__(bind, **options)
        self.hooks = hooks
        self.manage = manage


Listener = Callable[[SyncdSession, BookingChange], None]
ManageLink = Callable[[SyncdSession, Booking], str | None]


@dataclass(frozen=True)
class TransactionHooks:
    listeners: tuple[Listener, ...]  # called in this order
    manage_link: ManageLink | None  # None: messages show the contact text instead


def publish(session: SyncdSession, change: BookingChange) -> None:
    """Tell every listener of `change`, inside the caller's transaction."""
    session.flush()
    for listener in session.hooks.listeners:
        listener(session, change)


def manage_url(session: SyncdSession, booking: Booking) -> str | None:
    """The booking's manage link, or None where managing it is not allowed."""
    provider = session.hooks.manage_link
    return None if provider is None else provider(session, booking)

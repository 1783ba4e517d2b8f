"""What the process plugs into every transaction: the listeners told of each booking
change, and the provider of a booking's manage link.

The store knows neither notifications, webhooks nor self-service; the code that
builds the process (syncd.wiring) hands them in as a `TransactionHooks`, and
the Runtime puts it on each session it opens, so code deep inside a transaction
finds it without importing the layers above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from syncd.store.changes import BookingChange
from syncd.store.models import Booking

SESSION_KEY = "syncd.transaction_hooks"

Listener = Callable[[Session, BookingChange], None]
ManageLink = Callable[[Session, Booking], str | None]


@dataclass(frozen=True)
class TransactionHooks:
    listeners: tuple[Listener, ...] = ()  # called in this order
    manage_link: ManageLink | None = None  # None: messages show the contact text instead


def install(sessions: sessionmaker[Session], hooks: TransactionHooks) -> None:
    info = dict(sessions.kw.get("info") or {})
    sessions.configure(info={**info, SESSION_KEY: hooks})


def hooks_of(session: Session) -> TransactionHooks:
    """The hooks the session's runtime was built with (none when there is none)."""
    found = session.info.get(SESSION_KEY)
    return found if isinstance(found, TransactionHooks) else TransactionHooks()


def publish(session: Session, change: BookingChange) -> None:
    """Tell every listener of `change`, inside the caller's transaction."""
    session.flush()
    for listener in hooks_of(session).listeners:
        listener(session, change)


def manage_url(session: Session, booking: Booking) -> str | None:
    """The booking's manage link, or None where managing it is not allowed."""
    provider = hooks_of(session).manage_link
    return None if provider is None else provider(session, booking)

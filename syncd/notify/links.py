"""The "Manage your booking" link in customer messages.

Whether a customer may manage a booking, and the link that lets them, belong
to customer self-service. It plugs in here by name: `MANAGE_LINKS` names a
"module:function" called as `function(session, booking) -> str | None`, inside
the transaction that queues the message. With no provider named, or when the
provider returns None, the message shows the merchant's contact text instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from sqlalchemy.orm import Session

from syncd.store.models import Booking

MANAGE_LINKS: str | None = "syncd.manage.tokens:manage_link"

ManageLink = Callable[[Session, Booking], str | None]


@cache
def _provider(path: str) -> ManageLink:
    module, _, name = path.partition(":")
    found: ManageLink = getattr(importlib.import_module(module), name)
    return found


def manage_url(session: Session, booking: Booking) -> str | None:
    """The booking's manage link, or None where managing it is not allowed."""
    if MANAGE_LINKS is None:
        return None
    return _provider(MANAGE_LINKS)(session, booking)

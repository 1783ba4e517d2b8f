"""How the process is put together: the listeners told of booking changes, the
manage-link provider, and the background services beside the worker.

The layers below know none of these by name; this module, at the top with the
commands that build the process, hands them in.
"""

from __future__ import annotations

from syncd.config import Settings
from syncd.manage.tokens import manage_link
from syncd.notify import listener as mail_listener
from syncd.notify.sender import mail_sender
from syncd.runtime import Runtime
from syncd.serve import NamedService
from syncd.store.session import Listener, TransactionHooks
from syncd.webhooks import emit
from syncd.webhooks.sender import WebhookSender

# called in this order, inside the transaction that changes the booking
CHANGE_LISTENERS: tuple[Listener, ...] = (emit.on_booking_change, mail_listener.on_booking_change)

# senders that run beside the worker (outboxes)
BACKGROUND_SERVICES: tuple[NamedService, ...] = (
    NamedService("webhooks", WebhookSender),
    NamedService("mail", mail_sender),
)

TRANSACTION_HOOKS = TransactionHooks(listeners=CHANGE_LISTENERS, manage_link=manage_link)


def build_runtime(settings: Settings) -> Runtime:
    """The Runtime of a syncd process, its sessions carrying the transaction hooks."""
    return Runtime.from_settings(settings, TRANSACTION_HOOKS)

"""A live booking whose event the server refuses for good: a conflict the merchant sees.

Dead-lettering alone would leave the booking on no calendar with nobody told but
the platform; an open "missing" conflict reaches the merchant and staff (notice,
`conflict.detected`) and closes by itself once the event is there after all.
"""

from __future__ import annotations

from datetime import datetime

from syncd.reconcile.conflicts import Finding, announce_opened, record_open
from syncd.reconcile.models import Rule
from syncd.store.models import CalendarBinding, Mirror
from syncd.store.session import SyncdSession
from syncd.store.tasks import MirrorTask
from syncd.webhooks.emit import ConflictKind


def open_unwritable_conflict(session: SyncdSession, task: MirrorTask, now: datetime) -> None:
    mirror = session.get(Mirror, task.mirror_id)
    if mirror is None or not mirror.dead:
        return  # the booking changed meanwhile: it gets fresh attempts instead
    binding = session.get(CalendarBinding, mirror.binding_id)
    if binding is None:
        return
    found = Finding(mirror.booking, binding, ConflictKind.MISSING, Rule.FLAG, ref=None)
    record_open(session, found, now)
    announce_opened(session, now)

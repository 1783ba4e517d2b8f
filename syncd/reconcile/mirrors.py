"""What reconciliation does to a mirror: relink it, hand it back to the worker, or let go.

Every change that gives the worker something to write announces the binding,
so the worker wakes after the commit (syncd/wakeup.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connectors.base import RemoteRef
from syncd.store.mirrors import DIRTY_BINDINGS, is_converged
from syncd.store.models import Mirror


def adopt(mirror: Mirror, ref: RemoteRef) -> None:
    """The event at `ref` is this mirror's, as it is now (its next write is conditional on it)."""
    mirror.remote_id, mirror.etag = ref.remote_id, ref.etag
    mirror.remote_may_exist = True


def detach(mirror: Mirror) -> None:
    """The event is gone and stays gone for now: the mirror keeps no href to watch.

    The mirror stays converged, so nothing is written until the booking changes
    or a conflict is resolved; `remote_may_exist` stays set, so a cancellation
    still looks for the event.
    """
    mirror.remote_id, mirror.etag = None, None
    _new_lineage(mirror)


def rewrite(session: Session, mirror: Mirror, ref: RemoteRef | None, now: datetime) -> None:
    """Have the worker write the booking's event again: over `ref`, or anew when it is gone."""
    mirror.remote_id = None if ref is None else ref.remote_id
    mirror.etag = None if ref is None else ref.etag
    if ref is None:
        _new_lineage(mirror)
    mirror.remote_may_exist = True
    mirror.actual_version = None
    _due(session, mirror, now)


def remove_stray(session: Session, mirror: Mirror, ref: RemoteRef, now: datetime) -> None:
    """An event of a booking that should have none (cancelled, moved): the worker deletes it."""
    adopt(mirror, ref)
    _due(session, mirror, now)


def _due(session: Session, mirror: Mirror, now: datetime) -> None:
    mirror.pending = not is_converged(mirror)
    if mirror.pending:
        mirror.dead, mirror.attempts, mirror.next_attempt_at = False, 0, now
        session.info.setdefault(DIRTY_BINDINGS, set()).add(mirror.binding_id)


def _new_lineage(mirror: Mirror) -> None:
    """The event is gone: the next create is a new one, not a retry (EventSpec.generation)."""
    mirror.generation = (mirror.generation or 0) + 1

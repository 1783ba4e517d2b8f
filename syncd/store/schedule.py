"""What a worker that also watches its calendars adds to its claims: the reconcile passes.

The store's claims (syncd.store.work) know mirrors; when a calendar's reconcile
pass falls due is the reconcile capability's to say (syncd.reconcile.state.PASSES),
and the worker hands its answer in. A worker that does not watch passes none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PassSchedule:
    # the calendars (bindings) whose pass is due at the given time
    due: Callable[[datetime], ColumnElement[bool]]
    # when the next pass falls due, calendars matching `held` (leased ones) left out
    next_time: Callable[[Session, datetime, ColumnElement[bool]], datetime | None]

"""The staff calendars read again when a customer confirms a time.

Stored busy time (syncd.manage.busy) may be a minute old, and a reconcile pass
minutes away. A confirmation therefore reads the slot's interval once more on
each of the staff member's bound calendars (`Calendar.busy_within`), before its
transaction, bounded by `manage.confirm_timeout_seconds`. A calendar that does
not answer in time refuses the confirmation: never booked into unknown time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC

from connectors.base import Connector
from syncd.errors import RemoteError
from syncd.manage.busy import BindingRef
from syncd.manage.errors import SlotTaken
from syncd.manage.slots import Interval

log = logging.getLogger("syncd.manage")

_UNCHECKED = (
    "Your booking could not be checked against the calendar just now, so nothing has "
    "changed. Please try again in a moment."
)


class BusyUnreadable(SlotTaken):
    """A calendar could not be read at confirm time: the customer tries again."""

    def __init__(self) -> None:
        super().__init__(_UNCHECKED)


@dataclass(frozen=True)
class SlotCheck:
    """What a confirmation must read: the staff member's calendars over the slot's reach."""

    staff_id: int
    bindings: tuple[BindingRef, ...]
    needed: Interval


@dataclass(frozen=True)
class FreshBusy:
    """The busy time the calendars of `check` showed at confirm time."""

    check: SlotCheck
    intervals: list[Interval]

    def answers(self, staff_id: int, bindings: Sequence[BindingRef], needed: Interval) -> bool:
        """Whether this read is the one the transaction needs (nothing was rebound since)."""
        asked = self.check
        return (asked.staff_id == staff_id and asked.bindings == tuple(bindings)
                and asked.needed.start <= needed.start and needed.end <= asked.needed.end)


async def read_fresh(
    connectors: Mapping[str, Connector], check: SlotCheck, seconds: float
) -> FreshBusy:
    """Every calendar of `check` read over its interval at once; BusyUnreadable if any fails."""
    try:
        found = await asyncio.gather(
            *(_read(connectors, binding, check.needed, seconds) for binding in check.bindings)
        )
    except (RemoteError, KeyError) as error:
        log.warning("busy time unreadable at confirm time: %s", type(error).__name__)
        raise BusyUnreadable from None
    intervals = sorted(i for each in found for i in each)
    return FreshBusy(check, intervals)


async def _read(
    connectors: Mapping[str, Connector], binding: BindingRef, needed: Interval, seconds: float
) -> list[Interval]:
    calendar = connectors[binding.connector].calendar(binding.calendar_id)
    busy = await calendar.busy_within(needed.start, needed.end, seconds)
    return [Interval(b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in busy]

"""What the manage pages show: plain data, no HTML, times already in the customer's zone."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from syncd.domain.manage_rules import Action, ActionState


class BookingPage(NamedTuple):
    """Made for every page a customer opens; a named tuple is made in a fraction of the time
    a frozen dataclass of fifteen fields takes."""

    booking_key: str
    service_name: str
    staff_name: str
    start_local: datetime
    end_local: datetime
    timezone: str  # the customer's IANA zone
    zone_label: str  # e.g. "CET, UTC+01:00 (Europe/Berlin)"
    duration_minutes: int
    location: str
    status: str
    paid: bool
    actions: dict[Action, ActionState]
    contact_text: str
    booking_page_url: str | None
    merchant_name: str


@dataclass(frozen=True)
class StaffOption:
    key: str
    name: str


@dataclass(frozen=True)
class SlotList:
    day: date
    slots: list[datetime]  # aware, in the customer's zone
    staff: StaffOption
    staff_options: list[StaffOption]  # all the customer may pick, current first; [] if none
    busy_unavailable: bool  # the staff calendar could not be read: no slots offered
    days: list[date]  # the days of the listing's fortnight with at least one slot
    earlier: date | None  # the first day of the fortnight before, if any is bookable
    later: date | None  # the first day of the fortnight after, if any is bookable
    current: datetime | None = None  # the booking's own start, when on this day and staff

    @property
    def times(self) -> list[tuple[datetime, bool]]:
        """The day's times to show, each with whether it is the booking's current one."""
        shown = [(slot, False) for slot in self.slots]
        if self.current is not None:
            shown.append((self.current, True))
        return sorted(shown)


def zone_label(zone_name: str, at: datetime) -> str:
    """The zone as a customer recognises it at `at`: abbreviation, offset and IANA name."""
    local = at.astimezone(ZoneInfo(zone_name))
    return _zone_label(zone_name, local.utcoffset() or timedelta(0), local.tzname() or "")


@functools.lru_cache(maxsize=1024)
def _zone_label(zone_name: str, offset: timedelta, abbreviation: str) -> str:
    shown = _offset_text(offset)
    if abbreviation and abbreviation[0].isalpha() and abbreviation != "UTC":
        shown = f"{abbreviation}, {shown}"
    return f"{shown} ({zone_name})"


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"

"""Wall times and durations to instants as RFC 5545 means them, whatever tzinfo icalendar gave.

- 3.3.5: a wall time that happens twice (the hour repeated when DST ends) is its *first*
  occurrence; one that never happens (skipped when DST starts) is read with the UTC
  offset in force before the gap. zoneinfo does both through fold=0; the zones icalendar
  builds from a VTIMEZONE it does not know (dateutil) get the gap wrong, so it is checked
  here rather than trusted.
- 3.3.6: a duration's days and weeks are nominal (wall-clock days), its hours, minutes and
  seconds exact; 3.8.5.3: each instance of a series lasts exactly as long as the first.

Servers disagree on both (sabre/dav and DAViCal expand an ambiguous time to its second
occurrence; Radicale and Xandikos add durations on the wall clock), so syncd never takes
instants from a server's `expand`: it reads the stored times and works them out here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

# far enough from a DST change to be on its earlier side, never across the one before
_BEFORE_A_GAP = timedelta(days=1)


def to_utc(value: date | datetime, floating_zone: tzinfo) -> datetime:
    """A DTSTART/DTEND value as aware UTC; floating times and dates read in `floating_zone`."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=floating_zone)
    first = value.replace(fold=0)
    if first.tzinfo is UTC or _happens(first):
        return first.astimezone(UTC)
    return _before_the_gap(first)


def _happens(local: datetime) -> bool:
    """Whether the wall time exists: it comes back unchanged from its instant."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None, fold=0) == local.replace(tzinfo=None, fold=0)


def _before_the_gap(local: datetime) -> datetime:
    offset = (local - _BEFORE_A_GAP).utcoffset()
    if offset is None:
        raise ValueError(f"the zone of {local} gives no UTC offset")
    return (local.replace(tzinfo=None) - offset).replace(tzinfo=UTC)


def end_after(start: date | datetime, duration: timedelta, floating_zone: tzinfo) -> datetime:
    """The instant `duration` after `start`: its days on the wall clock, the rest exactly."""
    nominal = timedelta(days=duration.days)
    exact = duration - nominal
    return to_utc(start + nominal, floating_zone) + exact

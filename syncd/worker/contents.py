"""What a calendar holds before this worker's first writes to it, so that events are adopted.

syncd cannot know whether a booking's event exists on a calendar it has not
written to since it started: a new binding, a store rebuilt or imported, a
worker killed between a write and its record, a client that re-saved the event
under a name of its own. Some servers then take a second object with the same
UID (DAViCal, sabre/dav). So before the first writes, one listing of the
calendar finds every event by its UID, and a booking whose event is found
updates that object instead of creating another. Later writes cost nothing extra.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from connectors.base import Calendar, RemoteRef
from syncd.errors import PermanentError
from syncd.store.tasks import MirrorTask

log = logging.getLogger("syncd.worker")


@dataclass
class Contents:
    """Per worker process: the events found on each calendar, until adopted."""

    # None: the connector has no listing (its own lookups decide)
    found: dict[int, dict[str, RemoteRef] | None] = field(default_factory=dict)

    async def learn(self, binding_id: int, calendar: Calendar) -> None:
        """List the calendar once per process; transient and auth errors propagate."""
        if binding_id in self.found:
            return
        try:
            listed = await calendar.booking_events()
        except PermanentError as error:
            # Without a listing the creates still meet the server's UID checks.
            log.warning("calendar listing refused: %s", error, extra={"binding_id": binding_id})
            listed = None
        self.found[binding_id] = listed

    def adopting(self, binding_id: int, task: MirrorTask) -> MirrorTask:
        """`task` pointed at the event found for its booking, when it knows none itself.

        A booking the listing did not find needs no lookup of its own: the listing
        was one, and syncd's own writes since then are at its own names.
        """
        listed = self.found.get(binding_id)
        if task.ref is not None or listed is None:
            return task
        found = listed.get(task.booking_key)
        if found is None:
            return replace(task, unsure=False)
        return replace(task, ref=found, remote_may_exist=True, unsure=False)

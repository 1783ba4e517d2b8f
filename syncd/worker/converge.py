"""Bring one calendar event in line with its mirror's desired state.

Every path is idempotent: running it twice, or after a crash at any point of a
previous run, leaves exactly one event (or none) on the calendar. Until
reconciliation rules exist, the booking wins over a hand-edited event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from connectors.base import Calendar, EventSpec, RemoteRef
from syncd.errors import PreconditionFailed, RemoteNotFound, TransientError, UidInUse
from syncd.store.models import Presence
from syncd.store.tasks import MirrorTask
from syncd.store.work import Outcome

# Whether the task is still the one to write (its lease held, its booking unchanged).
Recheck = Callable[[], Awaitable[bool]]


class StaleTaskError(Exception):
    """The event changed under a write whose task is no longer current: nothing to do."""


async def _always() -> bool:
    return True


async def converge(calendar: Calendar, task: MirrorTask, recheck: Recheck = _always) -> Outcome:
    """`recheck` is asked after a 412 (someone else wrote the event) before overwriting:
    a worker that lost its lease, or a booking changed since the claim, must not win."""
    if task.event is not None:
        ref, generation = await _write(calendar, task, task.event, recheck)
        return Outcome(Presence.PRESENT, task.desired_version, ref, generation)
    await _remove(calendar, task, recheck)
    return Outcome(Presence.ABSENT, None, None)


async def _write(
    calendar: Calendar, task: MirrorTask, event: EventSpec, recheck: Recheck
) -> tuple[RemoteRef, int | None]:
    """The event written, and the create lineage when a new one began."""
    ref = task.ref
    if ref is None and task.unsure:
        return await _overwrite_current(calendar, event, recheck, or_create=True), None
    if ref is None:
        return await _create_or_relink(calendar, event, recheck), None
    try:
        return await calendar.update(ref, event), None
    except RemoteNotFound:
        # Gone from where syncd put it: maybe re-saved by a client under another name,
        # else deleted by hand, and then a deliberate re-create is a lineage of its own
        # (a crash before it is recorded repeats this same step, so the same lineage).
        anew = replace(event, generation=event.generation + 1)
        written = await _overwrite_current(calendar, anew, recheck, or_create=True)
        return written, anew.generation
    except PreconditionFailed:
        return await _overwrite_current(calendar, event, recheck), None


async def _create_or_relink(calendar: Calendar, event: EventSpec, recheck: Recheck) -> RemoteRef:
    try:
        return await calendar.create(event)
    except UidInUse as refused:
        # The UID is the identity: adopt the object holding it, whatever its name.
        return await _overwrite_current(calendar, event, recheck, held_by=refused.holder)
    except PreconditionFailed:
        # Written before (a crash before we recorded it, a retried request, another worker).
        return await _overwrite_current(calendar, event, recheck)


async def _overwrite_current(
    calendar: Calendar,
    event: EventSpec,
    recheck: Recheck,
    *,
    or_create: bool = False,
    held_by: str | None = None,
) -> RemoteRef:
    if not await recheck():
        raise StaleTaskError(event.booking_key)
    current = await calendar.find_by_booking(event.booking_key)
    if current is not None:
        return await calendar.update(current.ref, event)
    if or_create:
        return await _create_or_relink(calendar, event, recheck)
    if held_by is not None:
        # Another calendar of the account holds the UID (home-wide UIDs, as on Cyrus):
        # a move whose removal there has not landed yet.
        raise TransientError("the event's UID is still held elsewhere in the account")
    raise TransientError("event vanished while being written; trying again")


async def _remove(calendar: Calendar, task: MirrorTask, recheck: Recheck) -> None:
    ref = task.ref
    if ref is None:
        if not task.remote_may_exist:
            return
        found = await calendar.find_by_booking(task.booking_key)
        if found is None:
            return
        ref = found.ref
    await _delete_current(calendar, ref, task.booking_key, recheck)


async def _delete_current(
    calendar: Calendar, ref: RemoteRef, booking_key: str, recheck: Recheck
) -> None:
    try:
        await calendar.delete(ref)
    except RemoteNotFound:
        return
    except PreconditionFailed:
        if not await recheck():
            raise StaleTaskError(booking_key) from None
        current = await calendar.find_by_booking(booking_key)
        if current is not None:
            await _delete_current(calendar, current.ref, booking_key, recheck)

"""Bring one calendar event in line with its mirror's desired state.

Every path is idempotent: running it twice, or after a crash at any point of a
previous run, leaves exactly one event (or none) on the calendar. Until
reconciliation rules exist, the booking wins over a hand-edited event.
"""

from __future__ import annotations

from connectors.base import Calendar, EventSpec, RemoteRef
from syncd.errors import PreconditionFailed, RemoteNotFound, TransientError, UidInUse
from syncd.store.models import Presence
from syncd.store.work import MirrorTask, Outcome


async def converge(calendar: Calendar, task: MirrorTask) -> Outcome:
    if task.event is not None:
        ref = await _write(calendar, task.ref, task.event, unsure=task.unsure)
        return Outcome(Presence.PRESENT, task.desired_version, ref)
    await _remove(calendar, task)
    return Outcome(Presence.ABSENT, None, None)


async def _write(
    calendar: Calendar, ref: RemoteRef | None, event: EventSpec, *, unsure: bool
) -> RemoteRef:
    if ref is None and unsure:
        return await _overwrite_current(calendar, event, or_create=True)
    if ref is None:
        return await _create_or_relink(calendar, event)
    try:
        return await calendar.update(ref, event)
    except RemoteNotFound:
        # Gone from where syncd put it, maybe re-saved by a client under another name.
        return await _overwrite_current(calendar, event, or_create=True)
    except PreconditionFailed:
        return await _overwrite_current(calendar, event)


async def _create_or_relink(calendar: Calendar, event: EventSpec) -> RemoteRef:
    try:
        return await calendar.create(event)
    except UidInUse as refused:
        # The UID is the identity: adopt the object holding it, whatever its name.
        return await _overwrite_current(calendar, event, held_by=refused.holder)
    except PreconditionFailed:
        # Written before (a crash before we recorded it, or a retried request).
        return await _overwrite_current(calendar, event)


async def _overwrite_current(
    calendar: Calendar, event: EventSpec, *, or_create: bool = False, held_by: str | None = None
) -> RemoteRef:
    current = await calendar.find_by_booking(event.booking_key)
    if current is not None:
        return await calendar.update(current.ref, event)
    if or_create:
        return await _create_or_relink(calendar, event)
    if held_by is not None:
        # Another calendar of the account holds the UID (home-wide UIDs, as on Cyrus):
        # a move whose removal there has not landed yet.
        raise TransientError("the event's UID is still held elsewhere in the account")
    raise TransientError("event vanished while being written; trying again")


async def _remove(calendar: Calendar, task: MirrorTask) -> None:
    ref = task.ref
    if ref is None:
        if not task.remote_may_exist:
            return
        found = await calendar.find_by_booking(task.booking_key)
        if found is None:
            return
        ref = found.ref
    await _delete_current(calendar, ref, task.booking_key)


async def _delete_current(calendar: Calendar, ref: RemoteRef, booking_key: str) -> None:
    try:
        await calendar.delete(ref)
    except RemoteNotFound:
        return
    except PreconditionFailed:
        current = await calendar.find_by_booking(booking_key)
        if current is not None:
            await _delete_current(calendar, current.ref, booking_key)

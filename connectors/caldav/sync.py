"""The CalDAV change feed (connectors/base.py, "Watching a calendar").

    delta     sync-collection(token) ─▶ hrefs whose etag is new ─▶ calendar-multiget, in batches
    complete  sync-collection("") + calendar-query(window, etags only) ─▶ multiget of what is new
              (a server without sync-collection: PROPFIND Depth 1 instead, and no cursor)

A token the server refuses (403/409/412 valid-sync-token, or any other error of
the REPORT that is not transient or auth) gives a complete listing and a fresh
token: a refused token never reads as "nothing changed".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import Protocol
from urllib.parse import unquote, urlsplit

from connectors.base import (
    ChangeSet,
    ChangeWindow,
    ObservedEvent,
    RemoteRef,
    Unreadable,
    same_etag,
)
from connectors.caldav import reports
from connectors.caldav.observe import CalendarObject, names_of, observe_bounded, read_object
from connectors.errors import AuthError, PermanentError, RemoteError, TransientError

MULTIGET_BATCH = 100
MAX_SYNC_ROUNDS = 1000  # truncated sync answers (RFC 6578 3.6) followed before giving up
# Servers match floating and all-day events in a zone of their own choosing.
_QUERY_MARGIN = timedelta(days=1)

Members = dict[str, str | None]  # href → etag; None: removed ("" when no etag was sent)


class FeedSource(Protocol):
    """What the feed needs of a calendar collection (CalDAVCalendar provides it)."""

    path: str

    async def report(self, body: bytes, depth: str) -> bytes: ...

    async def propfind(self, body: bytes, depth: str) -> bytes: ...

    async def floating_zone(self, needed: bool) -> tzinfo: ...


def _normal(href: str) -> str:
    """One spelling per object: servers may quote an href differently between answers."""
    path = href if href.startswith("/") else urlsplit(href).path
    return unquote(path) if "%" in path else path


@dataclass(frozen=True)
class _Known:
    """The caller's remote ids and etags, found by normalised href."""

    by_href: dict[str, tuple[str, str | None]]

    @classmethod
    def of(cls, known: Mapping[str, str | None]) -> _Known:
        return cls({_normal(remote_id): (remote_id, etag) for remote_id, etag in known.items()})

    def id_of(self, href: str) -> str:
        """The caller's own spelling of `href` when it knows it."""
        found = self.by_href.get(_normal(href))
        return href if found is None else found[0]

    def holds(self, href: str) -> bool:
        return _normal(href) in self.by_href

    def is_new(self, href: str, etag: str) -> bool:
        found = self.by_href.get(_normal(href))
        return not etag or found is None or not same_etag(found[1], etag)


async def changes(
    source: FeedSource, cursor: str | None, window: ChangeWindow, known: Mapping[str, str | None]
) -> ChangeSet:
    held = _Known.of(known)
    if cursor is None:
        return await _complete(source, window, held, None)
    try:
        answer = await _sync(source, cursor)
    except (TransientError, AuthError):
        raise
    except RemoteError as error:
        return await _complete(source, window, held, f"sync token refused ({error})")
    return await _delta(source, window, held, answer)


@dataclass
class _SyncResult:
    token: str
    members: Members = field(default_factory=dict)


async def _sync(source: FeedSource, token: str) -> _SyncResult:
    """The members changed since `token` (all of them for ""), following truncated answers.

    Etags only: most changes a pass sees are syncd's own writes, whose etags it holds, and
    the data of the others costs one multiget (asking for it here made Xandikos's answer
    slower than the two requests together)."""
    result = _SyncResult(token)
    for _ in range(MAX_SYNC_ROUNDS):
        body = await source.report(reports.sync_collection(result.token), depth="0")
        answer = reports.parse_sync_answer(body, source.path)
        for resource in answer.resources:
            result.members[resource.href] = (resource.etag or "") if resource.found else None
        if not answer.token:
            raise PermanentError("sync-collection answered without a sync-token")
        result.token = answer.token
        if not answer.truncated:
            return result
    raise PermanentError(f"sync-collection still truncated after {MAX_SYNC_ROUNDS} rounds")


async def _delta(
    source: FeedSource, window: ChangeWindow, held: _Known, answer: _SyncResult
) -> ChangeSet:
    members = answer.members
    new = [href for href, etag in members.items() if etag is not None and held.is_new(href, etag)]
    removed = frozenset(held.id_of(href) for href, etag in members.items() if etag is None)
    changed, unreadable = await _fetch(source, new, window, held)
    return ChangeSet(answer.token, complete=False, changed=changed, removed=removed,
                     unreadable=tuple(unreadable.refs), unreadable_details=unreadable.details,
                     exact_removals=True)


async def _complete(
    source: FeedSource, window: ChangeWindow, held: _Known, reset_reason: str | None
) -> ChangeSet:
    token, members = await _all_members(source)
    in_window = await _etags_in_window(source, window)
    present = {href: etag for href, etag in members.items() if etag is not None}
    candidates = in_window | {href: etag for href, etag in present.items() if held.holds(href)}
    new = [href for href, etag in candidates.items() if held.is_new(href, etag)]
    seen = {_normal(href) for href in [*present, *in_window]}
    removed = frozenset(rid for href, (rid, _) in held.by_href.items() if href not in seen)
    changed, unreadable = await _fetch(source, new, window, held)
    return ChangeSet(token, complete=True, changed=changed, removed=removed,
                     unreadable=tuple(unreadable.refs), unreadable_details=unreadable.details,
                     reset_reason=reset_reason, exact_removals=True)


async def _all_members(source: FeedSource) -> tuple[str | None, Members]:
    """Every object with its etag, and a fresh token where the server has sync-collection."""
    try:
        answer = await _sync(source, "")
    except (TransientError, AuthError):
        raise
    except RemoteError:
        body = await source.propfind(reports.ETAG_PROPFIND, depth="1")
        return None, _listed_members(source.path, reports.parse_multistatus(body))
    return answer.token, answer.members


def _listed_members(path: str, resources: list[reports.DavResource]) -> Members:
    """The members of a PROPFIND Depth 1 listing, which always holds the collection itself:
    an answer without it is no listing (an empty calendar would still show the collection)."""
    own = _normal(path).rstrip("/")
    if not any(_normal(r.href).rstrip("/") == own for r in resources):
        raise TransientError(f"PROPFIND {path}: the listing does not show the collection")
    members = [r for r in resources if r.found and _normal(r.href).rstrip("/") != own]
    return {r.href: r.etag or "" for r in members}


async def _etags_in_window(source: FeedSource, window: ChangeWindow) -> dict[str, str]:
    query = reports.etags_in_range(window.start - _QUERY_MARGIN, window.end + _QUERY_MARGIN)
    resources = reports.parse_multistatus(await source.report(query, depth="1"))
    return {r.href: r.etag or "" for r in resources if r.found}


async def _fetch(
    source: FeedSource,
    hrefs: list[str],
    window: ChangeWindow,
    held: _Known,
) -> tuple[tuple[ObservedEvent, ...], _Unreadable]:
    """The objects at `hrefs` (multiget, in batches), read; unreadable ones set apart."""
    objects: list[CalendarObject] = []
    unreadable = _Unreadable()
    for first in range(0, len(hrefs), MULTIGET_BATCH):
        batch = hrefs[first : first + MULTIGET_BATCH]
        body = await source.report(reports.multiget(batch), depth="1")
        # parsed in a thread: a staff member's objects may be large, and the loop serves pages
        await asyncio.to_thread(_read_all, body, held, objects, unreadable)
    zone = await source.floating_zone(any(o.floating for o in objects))
    observed = []
    for obj in objects:
        try:
            observed.append(await observe_bounded(obj, window, zone))
        except PermanentError as error:  # a series too big to expand, a date out of range
            master = obj.master
            unreadable.add(obj.ref, Unreadable(str(error), master.uid, master.summary))
    return tuple(observed), unreadable


@dataclass
class _Unreadable:
    """The objects a pass could not read, why, and what names them."""

    refs: list[RemoteRef] = field(default_factory=list)
    details: dict[str, Unreadable] = field(default_factory=dict)

    def add(self, ref: RemoteRef, detail: Unreadable) -> None:
        self.refs.append(ref)
        self.details[ref.remote_id] = detail


def _read_all(
    body: bytes, held: _Known, objects: list[CalendarObject], unreadable: _Unreadable
) -> None:
    for resource in reports.parse_multistatus(body):
        _read(resource, held, objects, unreadable)


def _read(
    resource: reports.DavResource,
    held: _Known,
    objects: list[CalendarObject],
    unreadable: _Unreadable,
) -> None:
    if not resource.found:
        return  # deleted since it was listed: the next delta reports it
    ref = RemoteRef(held.id_of(resource.href), resource.etag)
    if resource.calendar_data is None:
        unreadable.add(ref, Unreadable("the server sent no calendar data"))
        return
    try:
        obj = read_object(ref, resource.calendar_data)
    except PermanentError as error:
        unreadable.add(ref, Unreadable(str(error), *names_of(resource.calendar_data)))
        return
    if obj is not None:
        objects.append(obj)

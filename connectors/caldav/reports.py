"""WebDAV/CalDAV request bodies (built with caldav.elements) and multistatus parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

from caldav.elements import cdav, dav
from caldav.elements.base import BaseElement

from connectors.errors import TransientError

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"


def _xml(element: BaseElement) -> bytes:
    return str(element).encode("utf-8")


def _tree(parent: BaseElement, *children: BaseElement) -> BaseElement:
    """`parent` holding `children` (caldav.elements' `+` appends and returns the parent)."""
    return parent + list(children)


def propfind(*props: BaseElement) -> bytes:
    """A PROPFIND body asking for `props`."""
    return _xml(_tree(dav.Propfind(), _tree(dav.Prop(), *props)))


ETAG_PROPFIND = propfind(dav.GetEtag())
CALENDAR_PROPFIND = propfind(dav.ResourceType(), cdav.CalendarTimeZone())


def uid_query(uid: str) -> bytes:
    """calendar-query for VEVENTs whose UID contains `uid` (text-match is a substring test)."""
    uid_filter = _tree(cdav.PropFilter("UID"), cdav.TextMatch(uid, collation="i;octet"))
    return _calendar_query(cdav.CalendarData(), _tree(cdav.CompFilter("VEVENT"), uid_filter))


def all_events_query() -> bytes:
    """calendar-query for every VEVENT object, with its etag and data."""
    return _calendar_query(cdav.CalendarData(), cdav.CompFilter("VEVENT"))


def busy_query(start: datetime, end: datetime) -> bytes:
    """calendar-query for the objects with VEVENTs overlapping [start, end), as stored: no
    `expand`, as servers place DST-ambiguous times differently (connectors/caldav/instants.py)."""
    in_range = _tree(cdav.CompFilter("VEVENT"), cdav.TimeRange(start, end))
    return _calendar_query(cdav.CalendarData(), in_range)


def _calendar_query(data: BaseElement, event_filter: BaseElement) -> bytes:
    calendar_filter = _tree(cdav.Filter(), _tree(cdav.CompFilter("VCALENDAR"), event_filter))
    prop = _tree(dav.Prop(), dav.GetEtag(), data)
    return _xml(_tree(cdav.CalendarQuery(), prop, calendar_filter))


def sync_collection(token: str) -> bytes:
    """An RFC 6578 sync-collection REPORT for the etags of what changed since `token`."""
    props = _tree(dav.Prop(), dav.GetEtag())
    body = (dav.SyncToken(value=token), dav.SyncLevel(value="1"), props)
    return _xml(_tree(dav.SyncCollection(), *body))


def multiget(hrefs: list[str]) -> bytes:
    """A calendar-multiget REPORT for the etag and calendar data of `hrefs`."""
    prop = _tree(dav.Prop(), dav.GetEtag(), cdav.CalendarData())
    return _xml(_tree(cdav.CalendarMultiGet(), prop, *(dav.Href(value=h) for h in hrefs)))


def etags_in_range(start: datetime, end: datetime) -> bytes:
    """calendar-query for the etags (no data) of the VEVENTs overlapping [start, end)."""
    in_range = _tree(cdav.CompFilter("VEVENT"), cdav.TimeRange(start, end))
    calendar_filter = _tree(cdav.Filter(), _tree(cdav.CompFilter("VCALENDAR"), in_range))
    return _xml(_tree(cdav.CalendarQuery(), _tree(dav.Prop(), dav.GetEtag()), calendar_filter))


def mkcalendar(display_name: str) -> bytes:
    """A MKCALENDAR body naming the calendar and limiting it to events."""
    components = _tree(cdav.SupportedCalendarComponentSet(), cdav.Comp("VEVENT"))
    prop = _tree(dav.Prop(), dav.DisplayName(display_name), components)
    return _xml(_tree(cdav.Mkcalendar(), _tree(dav.Set(), prop)))


@dataclass(frozen=True)
class DavResource:
    """One `<response>` of a multistatus: a resource and the properties returned for it."""

    href: str  # the path, even where the server sent an absolute URL
    found: bool
    props: dict[str, ElementTree.Element] = field(default_factory=dict)

    def text(self, tag: str) -> str | None:
        prop = self.props.get(tag)
        return None if prop is None else (prop.text or "")

    @property
    def etag(self) -> str | None:
        return self.text(f"{DAV}getetag")

    @property
    def calendar_data(self) -> str | None:
        return self.text(f"{CALDAV}calendar-data")

    @property
    def is_calendar(self) -> bool:
        resource_type = self.props.get(f"{DAV}resourcetype")
        return resource_type is not None and resource_type.find(f"{CALDAV}calendar") is not None


def parse_multistatus(body: bytes) -> list[DavResource]:
    """The resources of a 207 Multi-Status body."""
    return [_resource(response) for response in _root(body).iter(f"{DAV}response")]


@dataclass(frozen=True)
class SyncAnswer:
    """A sync-collection response: its members, the new token, and whether it was cut short."""

    resources: list[DavResource]
    token: str | None
    truncated: bool  # RFC 6578 3.6: a 507 for the collection itself; ask again with `token`


def parse_sync_answer(body: bytes, collection_path: str) -> SyncAnswer:
    root = _root(body)
    members, truncated = [], False
    for response in root.iter(f"{DAV}response"):
        resource = _resource(response)
        if resource.href.rstrip("/") == collection_path.rstrip("/"):
            truncated = truncated or _status_code(response.findtext(f"{DAV}status", "")) == 507
        else:
            members.append(resource)
    return SyncAnswer(members, root.findtext(f"{DAV}sync-token"), truncated)


def _root(body: bytes) -> ElementTree.Element:
    """The body's `<multistatus>`; anything else (an HTML page, a cut-off body) is a failure
    of this request, never an empty answer: a captive portal or a maintenance page in front
    of the server answers 200 with HTML, which must not read as "no events"."""
    try:
        # Expat (>= 2.4.1, bundled with Python 3.11) refuses entity-expansion
        # bombs and ElementTree never fetches external entities.
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise TransientError(f"unreadable multistatus response: {exc}") from None
    if root.tag != f"{DAV}multistatus":
        raise TransientError(f"not a multistatus response: <{root.tag}>")
    return root


def _resource(response: ElementTree.Element) -> DavResource:
    href = urlsplit(response.findtext(f"{DAV}href", default="")).path
    own_status = response.findtext(f"{DAV}status")
    if own_status is not None:
        return DavResource(href, found=200 <= _status_code(own_status) < 300)
    return DavResource(href, found=True, props=_found_props(response))


def _found_props(response: ElementTree.Element) -> dict[str, ElementTree.Element]:
    props: dict[str, ElementTree.Element] = {}
    for propstat in response.iter(f"{DAV}propstat"):
        prop = propstat.find(f"{DAV}prop")
        if prop is not None and _status_code(propstat.findtext(f"{DAV}status", "")) == 200:
            props.update((child.tag, child) for child in prop)
    return props


def _status_code(status_line: str) -> int:
    """200 from "HTTP/1.1 200 OK"; 0 for a line that is not a status line."""
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

"""Read back what a CalDAV collection really holds, independently of syncd's connector."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree

import icalendar

from syncd.timeutil import as_utc
from tests.servers import DavServer

DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
QUERY = (
    b'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
    b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
    b'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
    b"</C:comp-filter></C:filter></C:calendar-query>"
)


@dataclass(frozen=True)
class ListedEvent:
    uid: str
    start: datetime
    end: datetime


def list_events(server: DavServer, path: str) -> list[ListedEvent]:
    with server.http_client() as client:
        response = client.request(
            "REPORT",
            path,
            content=QUERY,
            headers={"Depth": "1", "Content-Type": "application/xml"},
            timeout=60,
        )
    response.raise_for_status()
    tree = ElementTree.fromstring(response.content)
    return [_event(data.text or "") for data in tree.iter(f"{{{CALDAV}}}calendar-data")]


def _event(text: str) -> ListedEvent:
    event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
    return ListedEvent(
        str(event["UID"]), as_utc(event.decoded("DTSTART")), as_utc(event.decoded("DTEND"))
    )


def duplicates(events: list[ListedEvent]) -> list[str]:
    return [uid for uid, count in Counter(e.uid for e in events).items() if count > 1]

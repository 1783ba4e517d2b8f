"""Behaviours of CalDAV server families that cannot run here, played by tests/dav_proxy.py
in front of Radicale: each is what the named server was observed to do (issue 15).
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

from starlette.responses import Response

_SYNC_TOKEN = re.compile(rb"(<(?:[\w-]+:)?sync-token(?:\s[^>]*)?>)[^<]*(</(?:[\w-]+:)?sync-token>)")
# sabre/dav's body for a REPORT it has no plugin for (Sabre\DAV\Exception\ReportNotSupported)
_DAV = "{DAV:}"
_SABRE_REPORT_NOT_SUPPORTED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
    b"<d:supported-report/>"
    b"<s:exception>Sabre\\DAV\\Exception\\ReportNotSupported</s:exception>"
    b"<s:message>The {DAV:}sync-collection REPORT is not supported on this url.</s:message>"
    b"</d:error>"
)


def is_sync_collection(method: str, body: bytes) -> bool:
    return method == "REPORT" and b"sync-collection" in body


class Forwarded:
    """Every request forwarded and answered as the server does."""

    def answer(self, method: str, body: bytes) -> Response | None:
        return None

    def rewrite(self, method: str, body: bytes) -> bytes:
        return body

    def rewrite_answer(self, method: str, body: bytes, answer: bytes) -> bytes:
        return answer


class AnySyncTokenAccepted(Forwarded):
    """DAViCal: any sync-token, even a stale or garbage one, gets 207 with the collection's
    current objects and no removals. Played by asking the server for a fresh listing and
    leaving out the removals Radicale reports even then."""

    def rewrite(self, method: str, body: bytes) -> bytes:
        if not is_sync_collection(method, body):
            return body
        return _SYNC_TOKEN.sub(rb"\1\2", body)

    def rewrite_answer(self, method: str, body: bytes, answer: bytes) -> bytes:
        if not is_sync_collection(method, body):
            return answer
        root = ElementTree.fromstring(answer)
        for response in root.findall(f"{_DAV}response"):
            if "404" in response.findtext(f"{_DAV}status", ""):
                root.remove(response)
        return ElementTree.tostring(root, xml_declaration=True, encoding="utf-8")


class NoSyncCollection(Forwarded):
    """sabre/dav 1.8 (no sync plugin): REPORT sync-collection is 403 ReportNotSupported."""

    def answer(self, method: str, body: bytes) -> Response | None:
        if not is_sync_collection(method, body):
            return None
        return Response(_SABRE_REPORT_NOT_SUPPORTED, status_code=403,
                        media_type="application/xml; charset=utf-8")


class WritesRefused(Forwarded):
    """A server refusing every PUT while `refusing` is set (500), as Cyrus refused the creates
    of a rebuilt store; reads go through."""

    def __init__(self) -> None:
        self.refusing = False

    def answer(self, method: str, body: bytes) -> Response | None:
        return Response(status_code=500) if self.refusing and method == "PUT" else None

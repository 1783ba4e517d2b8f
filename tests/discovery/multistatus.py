"""Multistatus answers for the scripted server, written as a WebDAV server writes them."""

from __future__ import annotations

from tests.discovery.scripted_http import Reply

NAMESPACES = (
    'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
    'xmlns:A="http://apple.com/ns/ical/"'
)


def multistatus(*responses: tuple[str, str] | str, props: str = "") -> Reply:
    """A 207 with one `<response>` per (href, props) pair; a bare href takes `props`."""
    pairs = [(r, props) if isinstance(r, str) else r for r in responses]
    body = "".join(
        f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{inner}</D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        for href, inner in pairs
    )
    xml = f'<?xml version="1.0"?><D:multistatus {NAMESPACES}>{body}</D:multistatus>'
    return Reply(207, xml.encode(), "application/xml; charset=utf-8")


def principal_at(href: str) -> Reply:
    """The answer of a DAV root naming the current user's principal."""
    return multistatus(
        "/", props=f"<D:current-user-principal><D:href>{href}</D:href></D:current-user-principal>"
    )


def home_set_at(principal: str, href: str) -> Reply:
    """The answer of a principal naming its calendar home."""
    return multistatus(
        principal, props=f"<C:calendar-home-set><D:href>{href}</D:href></C:calendar-home-set>"
    )

"""Calendar connectors, found by the `kind` named in the configuration.

Each kind is an entry point in the `syncd.connectors` group naming a module (a
connector's package) that exposes `Settings`, its configuration table, and
`build`; it is imported only when first needed. A kind whose service pushes
change notifications also exposes `PUSH_FEED` (a `connectors.push.PushFeed`),
which syncd's web handler serves. A connector shipped elsewhere registers itself
the same way in its own distribution:

    [project.entry-points."syncd.connectors"]
    caldav = "connectors.caldav"
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

from pydantic import BaseModel

from connectors.base import Connector
from connectors.push import PushFeed

ENTRY_POINT_GROUP = "syncd.connectors"


class ConnectorKind(Protocol):
    """What a connector package exposes to the registry."""

    Settings: type[BaseModel]

    def build(self, settings: Any) -> Connector: ...


def known_kinds() -> list[str]:
    """The kinds installed, in order."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP).names)


def load_kind(kind: str) -> ConnectorKind:
    """The module implementing `kind`; imported only when first needed."""
    try:
        entry_point = entry_points(group=ENTRY_POINT_GROUP)[kind]
    except KeyError:
        raise ValueError(_unknown(kind)) from None
    return cast(ConnectorKind, entry_point.load())


def push_feed(kind: str) -> PushFeed | None:
    """The push feed of `kind` (its `PUSH_FEED`), or None where its service pushes nothing."""
    return _feed_of(load_kind(kind))


def push_feeds() -> dict[str, PushFeed]:
    """The push feeds of every kind installed, by kind (each kind is imported)."""
    found = {point.name: _feed_of(point.load()) for point in entry_points(group=ENTRY_POINT_GROUP)}
    return {kind: feed for kind, feed in found.items() if feed is not None}


def _feed_of(kind: object) -> PushFeed | None:
    feed = getattr(kind, "PUSH_FEED", None)
    return feed if isinstance(feed, PushFeed) else None


def _unknown(kind: str) -> str:
    known = known_kinds()
    if not known:
        return f"unknown connector kind {kind!r} (none installed: reinstall syncd)"
    return f"unknown connector kind {kind!r} (known: {', '.join(known)})"


def build_connector(raw: Mapping[str, Any]) -> Connector:
    """A connector from one validated `[connectors.<name>]` table."""
    kind = load_kind(str(raw.get("kind")))
    return kind.build(kind.Settings.model_validate(raw))

"""Calendar connectors, found by the `kind` named in the configuration.

Each kind is an entry point in the `syncd.connectors` group naming a module (a
connector's package) that exposes `Settings`, its configuration table, and
`build`; it is imported only when first needed. A kind whose accounts can be
stored by the caller (syncd keeps them in its database, the secret encrypted)
also exposes `build_with_credential`, used through `build_account`. A kind that
can tell where a calendar lives, whichever account reaches it, exposes
`calendar_identity`. A kind whose service pushes change notifications also
exposes `PUSH_FEED` (a `connectors.push.PushFeed`), which syncd's web handler
serves. A connector shipped elsewhere registers itself
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


# The validation context of a stored account's settings: its secret comes from a
# `Credential`, so a kind's Settings neither need nor accept its *_env/*_file keys.
STORED_ACCOUNT = "stored_account"


class Credential(Protocol):
    """An account's secret held by the caller (syncd: encrypted in its database)."""

    def read(self) -> str | None:
        """caldav: the password; m365 delegated: MSAL's serialized token cache."""

    def write(self, secret: str) -> None:
        """The connector changed it (a refreshed token cache): persist it."""


class ConnectorKind(Protocol):
    """What a connector package exposes to the registry."""

    Settings: type[BaseModel]

    def build(self, settings: Any) -> Connector: ...

    def build_with_credential(self, settings: Any, credential: Credential) -> Connector: ...


def known_kinds() -> list[str]:
    """The kinds installed, in order."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP).names)


# Kinds found so far: looking entry points up reads every installed distribution's
# metadata (tens of milliseconds), too slow for a thousand stored accounts.
_loaded: dict[str, ConnectorKind] = {}


def load_kind(kind: str) -> ConnectorKind:
    """The module implementing `kind`; imported only when first needed."""
    if kind in _loaded:
        return _loaded[kind]
    try:
        entry_point = entry_points(group=ENTRY_POINT_GROUP)[kind]
    except KeyError:
        raise ValueError(_unknown(kind)) from None
    module = _loaded[kind] = cast(ConnectorKind, entry_point.load())
    return module


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


def calendar_identity(raw: Mapping[str, Any], calendar_id: str, *, stored: bool) -> str | None:
    """Where `calendar_id` of the account `raw` (a validated table; `stored`: a stored
    account's) lives, spelt the same whichever account reaches it: two bindings of one
    identity would write every booking twice. None where the kind cannot tell (it exposes
    no `calendar_identity`, or the id is not one of the account's)."""
    kind = load_kind(str(raw.get("kind")))
    identify = getattr(kind, "calendar_identity", None)
    if identify is None:
        return None
    settings = kind.Settings.model_validate(raw, context={STORED_ACCOUNT: stored})
    identity = identify(settings, calendar_id)
    return identity if isinstance(identity, str) else None


def build_connector(raw: Mapping[str, Any]) -> Connector:
    """A connector from one validated `[connectors.<name>]` table."""
    kind = load_kind(str(raw.get("kind")))
    return kind.build(kind.Settings.model_validate(raw))


def account_settings(raw: Mapping[str, Any]) -> BaseModel:
    """A stored account's settings validated by its kind's Settings (`ValidationError`, or
    `ValueError` for an unknown kind); its secret keys (*_env, *_file) are refused."""
    kind = load_kind(str(raw.get("kind")))
    return kind.Settings.model_validate(raw, context={STORED_ACCOUNT: True})


def build_account(raw: Mapping[str, Any], credential: Credential) -> Connector:
    """A connector for a stored account: `raw` validated by the kind's Settings (the
    *_env/*_file secret keys absent), the secret read from `credential`."""
    kind = load_kind(str(raw.get("kind")))
    if not hasattr(kind, "build_with_credential"):
        raise ValueError(f"connector kind {raw.get('kind')!r} cannot be stored as an account")
    return kind.build_with_credential(account_settings(raw), credential)

"""Calendar connectors, looked up lazily by the `kind` named in the configuration."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol, cast

from pydantic import BaseModel

from connectors.base import Connector

KINDS: dict[str, str] = {
    "caldav": "connectors.caldav",
    "memory": "connectors.memory_kind",
    "m365": "connectors.m365",
}


class ConnectorKind(Protocol):
    """What a connector package exposes to the registry."""

    Settings: type[BaseModel]

    def build(self, settings: Any) -> Connector: ...


def load_kind(kind: str) -> ConnectorKind:
    """The module implementing `kind`; imported only when first needed."""
    try:
        module_name = KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"unknown connector kind {kind!r} (known: {known})") from None
    return cast(ConnectorKind, importlib.import_module(module_name))


def build_connector(raw: Mapping[str, Any]) -> Connector:
    """A connector from one validated `[connectors.<name>]` table."""
    kind = load_kind(str(raw.get("kind")))
    return kind.build(kind.Settings.model_validate(raw))

"""Connector kinds are the `syncd.connectors` entry points, loaded by the name a table gives."""

from __future__ import annotations

import pytest

from connectors import build_connector, known_kinds, load_kind
from connectors.memory import MemoryConnector


def test_the_shipped_kinds_are_installed_as_entry_points() -> None:
    assert {"caldav", "m365", "memory"} <= set(known_kinds())


def test_a_kind_is_loaded_by_its_name() -> None:
    connector = build_connector({"kind": "memory", "concurrency_per_calendar": 2})
    assert isinstance(connector, MemoryConnector)
    assert load_kind("caldav").Settings.__module__ == "connectors.caldav.settings"


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"kind 'exchange2003' \(known: caldav, "):
        load_kind("exchange2003")

"""Etags compared as servers mean them: weak and strong forms of one value are one version."""

from __future__ import annotations

import pytest

from connectors.base import RemoteRef, same_etag
from connectors.caldav.sync import _Known


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ('"abc"', '"abc"', True),
        ('W/"abc"', '"abc"', True),  # Cyrus: a gzip-encoded GET gives the weak form
        ('W/"abc"', 'W/"abc"', True),
        ('"abc"', '"abd"', False),
        ('W/"abc"', '"abd"', False),
        (None, '"abc"', False),
        (None, None, False),
    ],
)
def test_same_etag(one: str | None, other: str | None, same: bool) -> None:
    assert same_etag(one, other) is same
    assert same_etag(other, one) is same


def test_same_version_needs_the_same_object() -> None:
    assert RemoteRef("/a.ics", 'W/"1"').same_version(RemoteRef("/a.ics", '"1"'))
    assert not RemoteRef("/a.ics", '"1"').same_version(RemoteRef("/b.ics", '"1"'))


def test_a_listed_weak_etag_of_a_held_version_is_no_change() -> None:
    held = _Known.of({"/alice/work/b-1.ics": '"1"'})
    assert not held.is_new("/alice/work/b-1.ics", 'W/"1"')
    assert held.is_new("/alice/work/b-1.ics", 'W/"2"')

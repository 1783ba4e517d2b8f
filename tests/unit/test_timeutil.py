"""as_utc: naive values are taken as UTC, aware ones converted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncd.timeutil import as_utc


class Stamp(datetime):
    """A datetime subclass, as some libraries hand out."""


@pytest.mark.parametrize("naive", [
    datetime(2026, 12, 9, 8, 0),
    datetime(2026, 3, 29, 1, 59, 59, 999_999),
    datetime(2026, 10, 25, 2, 30, fold=1),
    datetime(1970, 1, 1),
    Stamp(2026, 12, 9, 8, 0, 0, 1, fold=1),
])
def test_a_naive_value_becomes_the_same_time_in_utc(naive: datetime) -> None:
    expected = naive.replace(tzinfo=UTC)
    found = as_utc(naive)
    assert (found, found.fold, found.tzinfo, type(found)) == (
        expected, expected.fold, UTC, type(expected))


def test_an_aware_value_is_converted_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    found = as_utc(datetime(2026, 12, 9, 9, 0, tzinfo=berlin_winter))
    assert (found, found.tzinfo) == (datetime(2026, 12, 9, 8, 0, tzinfo=UTC), UTC)

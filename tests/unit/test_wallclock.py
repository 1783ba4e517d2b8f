"""The one wall-time rule the CalDAV connector, the Graph connector and invitations share."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from connectors.wallclock import is_ambiguous, vtimezone, wall_time

BERLIN = ZoneInfo("Europe/Berlin")
# Berlin leaves DST on 2026-10-25 at 01:00 UTC: 02:00-03:00 happens twice.
FIRST_PASS = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
SECOND_PASS = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET


def test_an_instant_in_the_first_pass_of_the_repeated_hour_has_its_wall_time() -> None:
    local = wall_time(FIRST_PASS, BERLIN)
    assert local is not None
    assert (local.hour, local.minute) == (2, 30)
    assert is_ambiguous(local)


def test_an_instant_in_the_second_pass_has_no_wall_time_of_its_own() -> None:
    assert wall_time(SECOND_PASS, BERLIN) is None
    assert is_ambiguous(SECOND_PASS.astimezone(BERLIN))


def test_a_skipped_wall_time_is_ambiguous_and_an_ordinary_one_is_not() -> None:
    assert is_ambiguous(datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN))  # Berlin skips 02:00-03:00
    assert not is_ambiguous(datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN))
    assert wall_time(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), BERLIN) == datetime(
        2026, 3, 2, 10, 0, tzinfo=BERLIN
    )


def test_the_vtimezone_covers_only_the_years_asked_for() -> None:
    text = vtimezone("Europe/Berlin", 2026, 2026).decode()
    assert text.startswith("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n")
    assert "2026" in text
    assert "2028" not in text
    assert vtimezone("Europe/Berlin", 2026, 2026) is vtimezone("Europe/Berlin", 2026, 2026)

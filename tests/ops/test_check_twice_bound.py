"""`syncd check --online` names a calendar that more than one active binding writes to
(stored before bindings held where their calendar lives): every booking would be written
to it twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from syncd.store.db import create_db_engine
from syncd.store.models import CalendarBinding, Merchant, Staff
from tests.ops.test_check_online import KEY_ENV, caldav, check_online, config_with
from tests.servers import RadicaleServer


def store_bindings(config: Path, bindings: list[tuple[str, str, str, bool]]) -> None:
    """(staff, connector, calendar id, active), stored as an older syncd did: no identity."""
    database = config.parent / "syncd.db"
    engine = create_db_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(insert(Merchant).values(key="m1", name="Salon", timezone="UTC"))
        merchant = connection.scalar(select(Merchant.id))
        for number, (staff, connector, calendar_id, active) in enumerate(bindings):
            connection.execute(insert(Staff).values(
                merchant_id=merchant, key=staff, name=staff, timezone="UTC", working_hours={}))
            staff_id = connection.scalar(select(Staff.id).where(Staff.key == staff))
            connection.execute(insert(CalendarBinding).values(
                staff_id=staff_id, key=f"cal{number}", connector=connector,
                calendar_id=calendar_id, active=active))
    engine.dispose()


def test_one_calendar_bound_through_two_connectors_is_named(
    tmp_path: Path,
    radicale: RadicaleServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 32)
    spelt_otherwise = radicale.url.replace("http://", "HTTP://")
    config = config_with(tmp_path, {
        "dav": caldav(radicale.url, radicale.username, radicale.password_file),
        "dav2": caldav(spelt_otherwise, radicale.username, radicale.password_file),
    })
    user = radicale.username
    store_bindings(config, [
        ("alice", "dav", f"/{user}/work/", True),
        ("bob", "dav2", f"{user}/work", True),
        ("carol", "dav", f"/{user}/home/", True),
        ("dan", "dav2", f"/{user}/home/", False),  # inactive: writes nothing
    ])
    code, _, err = check_online(config, capsys)
    assert code == 2
    assert f"/{user}/work/ is bound 2 times (m1/alice/cal0, m1/bob/cal1)" in err
    assert "home" not in err

"""Conflicts over the admin API and the CLI: listed, shown, resolved by a rule, kept as history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from syncd.api import create_app
from syncd.cli import main
from syncd.config import Settings
from tests.api.client import ApiClient
from tests.dbs import database_url
from tests.reconcile.hands import MemoryHands
from tests.reconcile.shop import HOUR, START, Shop, migrated, settings_for

__all__ = ["database_url"]  # on SQLite and PostgreSQL

pytestmark = pytest.mark.anyio
KEY = "reconcile-test-key"
CONFLICTS = "/api/v1/merchants/salon/conflicts"
WATCH = "/api/v1/merchants/salon/staff/alice/calendars/work/reconcile"
MOVED = (START + 2 * HOUR, START + 3 * HOUR)


@pytest.fixture
async def shop(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Shop]:
    monkeypatch.setenv("SYNCD_API_KEY", KEY)
    hands = MemoryHands()
    runtime = migrated(settings_for(database_url, hands))
    yield Shop(runtime, hands, hands.new_calendar())
    runtime.close()


@pytest.fixture
def api(shop: Shop) -> Iterator[ApiClient]:
    with ApiClient(create_app(shop.runtime), headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


async def conflict_after(shop: Shop, rule: str, change: str) -> int:
    """A booking b1 whose event staff moved or deleted (or overlapped); the conflict's id."""
    shop.seed(rule)
    shop.book("b1")
    await shop.settle()
    if change == "move":
        await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    elif change == "delete":
        await shop.hands.delete(shop.calendar_id, shop.href("b1"))
    else:
        await shop.hands.add_foreign(shop.calendar_id, "dentist", START, START + HOUR)
    await shop.watch_again()
    (conflict,) = shop.open_conflicts()
    return conflict.id


async def test_a_conflict_is_listed_with_both_sides(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "flag", "move")
    listing = api.get(CONFLICTS, params={"status": "open"}).json()
    assert [item["id"] for item in listing["items"]] == [conflict_id]
    assert listing["next_cursor"] is None
    shown = api.get(f"{CONFLICTS}/{conflict_id}").json()
    assert shown == listing["items"][0]
    assert (shown["booking"], shown["staff"], shown["calendar"]) == ("b1", "alice", "work")
    assert (shown["kind"], shown["status"], shown["rule"]) == ("moved", "open", "flag")
    assert shown["booking_side"]["start"] == START.isoformat()
    assert shown["calendar_side"]["start"] == MOVED[0].isoformat()
    assert "etag" not in shown["calendar_side"]


async def test_booking_wins_puts_the_event_back(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "flag", "move")
    response = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "booking_wins"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["resolution"]) == ("resolved",
                                                                          "booking_wins")
    assert response.json()["resolved_by"] == "merchant"
    await shop.settle()
    assert await shop.event_times("b1") == (START, START + HOUR)
    assert api.get(CONFLICTS, params={"status": "open"}).json()["items"] == []
    history = api.get(CONFLICTS, params={"status": "resolved"}).json()["items"]
    assert [item["id"] for item in history] == [conflict_id]
    assert shop.webhook_types()[-1] == "conflict.resolved"

    again = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "booking_wins"})
    assert again.status_code == 200, "the same request twice is the same resolution"
    other = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "dismiss"})
    assert other.status_code == 409


async def test_calendar_wins_moves_the_booking(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "flag", "move")
    response = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "calendar_wins"})
    assert response.status_code == 200, response.text
    await shop.settle()
    assert (shop.booking("b1").start, shop.booking("b1").end) == MOVED
    assert ("rescheduled", "customer") in shop.messages()
    assert await shop.event_times("b1") == MOVED


async def test_calendar_wins_on_a_deletion_cancels_only_when_asked(
    shop: Shop, api: ApiClient
) -> None:
    conflict_id = await conflict_after(shop, "calendar_wins", "delete")
    assert shop.booking("b1").status == "confirmed"
    response = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "calendar_wins"})
    assert response.status_code == 200, response.text
    await shop.settle()
    assert shop.booking("b1").status == "cancelled"
    assert ("cancelled", "customer") in shop.messages()
    assert await shop.event_times("b1") is None


async def test_a_dismissed_deletion_stays_as_it_is(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "flag", "delete")
    response = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "dismiss"})
    assert response.json()["resolution"] == "dismissed"
    await shop.watch_again()
    assert await shop.event_times("b1") is None
    assert shop.open_conflicts() == []
    shop.book("b1", START + HOUR)  # the booking changes: its event is written again
    await shop.settle()
    assert await shop.event_times("b1") == (START + HOUR, START + 2 * HOUR)


async def test_an_overlap_has_no_calendar_side_to_take(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "booking_wins", "overlap")
    refused = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "calendar_wins"})
    assert refused.status_code == 409
    assert "overlap" in refused.json()["error"]["message"]
    kept = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "booking_wins"})
    assert kept.status_code == 200
    assert shop.booking("b1").version == 1


async def test_bad_requests_change_nothing(shop: Shop, api: ApiClient) -> None:
    conflict_id = await conflict_after(shop, "flag", "move")
    bad = api.post(f"{CONFLICTS}/{conflict_id}/resolve", json={"rule": "toss_a_coin"})
    assert bad.status_code == 422
    assert "rule" in bad.json()["error"]["fields"]
    assert api.post(f"{CONFLICTS}/999999/resolve", json={"rule": "dismiss"}).status_code == 404
    assert api.get(f"{CONFLICTS}/{2**70}").status_code == 404
    elsewhere = "/api/v1/merchants/nobody/conflicts"
    assert api.get(f"{elsewhere}/{conflict_id}").status_code == 404
    assert api.get(CONFLICTS, params={"status": "maybe"}).status_code == 422
    assert [c.status for c in shop.conflicts()] == ["open"]


async def test_a_pass_can_be_asked_for(shop: Shop, api: ApiClient) -> None:
    shop.seed("flag")
    shop.book("b1")
    await shop.settle()
    state = api.get(WATCH).json()
    assert (state["watched"], state["passes"], state["last_error"]) == (True, 1, None)
    assert "cursor" not in state
    await shop.hands.move(shop.calendar_id, shop.href("b1"), *MOVED)
    asked = api.post(WATCH)
    assert asked.status_code == 202
    await shop.settle()
    assert api.get(WATCH).json()["passes"] == 2
    assert [c.kind for c in shop.open_conflicts()] == ["moved"]


async def test_the_cli_lists_shows_and_resolves(
    shop: Shop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conflict_id = await conflict_after(shop, "flag", "move")
    config = tmp_path / "syncd.toml"
    settings: Settings = shop.runtime.settings
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n[connectors.cal]\nkind = "memory"\n'
    )
    assert main(["--config", str(config), "conflicts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "conflicts (open): 1" in listed
    assert f"{conflict_id} salon/b1 alice/work moved open" in listed
    assert main(["--config", str(config), "conflicts", "show", str(conflict_id)]) == 0
    assert json.loads(capsys.readouterr().out)["calendar_side"]["start"] == MOVED[0].isoformat()
    args = ["--config", str(config), "conflicts", "resolve", str(conflict_id), "booking_wins"]
    assert main(args) == 0
    assert "resolved: booking_wins" in capsys.readouterr().out
    assert main(["--config", str(config), "conflicts", "resolve", str(conflict_id),
                 "dismiss"]) == 2
    assert "resolved already" in capsys.readouterr().err
    assert main(["--config", str(config), "conflicts", "show", "424242"]) == 2
    await shop.settle()
    assert await shop.event_times("b1") == (START, START + HOUR)

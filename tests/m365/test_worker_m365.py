"""The real worker mirroring bookings to mailboxes on the Graph double."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.m365.events import parse_time
from syncd.api.app import create_app
from syncd.domain.bookings import event_uid
from syncd.store.models import BindingState
from tests import factories as f
from tests.api.client import ApiClient
from tests.graph import GraphDouble
from tests.m365.world import World, make_world

pytestmark = pytest.mark.timeout(300)
API_KEY = "m365-test-api-key"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tags(world: World, staff: str) -> Counter[str]:
    """How many events of the staff member's mailbox carry each booking tag."""
    return Counter(
        p["value"] for e in world.events(staff) for p in e["singleValueExtendedProperties"]
    )


def test_a_create_whose_answer_was_lost_is_not_made_twice(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    world = make_world(double, database_url, tmp_path)
    world.add_staff(["anna"])
    world.book([(f"b{i}", "anna", i) for i in range(30)])
    double.faults.drop_after_commit = 3
    asyncio.run(world.run_until(world.converged))
    assert double.faults.drop_after_commit == 0
    assert len(world.events("anna")) == 30
    assert set(tags(world, "anna").values()) == {1}
    world.runtime.close()


def test_lost_state_relinks_events_by_their_tag(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    first = make_world(double, database_url, tmp_path)
    first.add_staff(["anna", "bert"])
    bookings = [(f"b{i}", "anna" if i % 2 else "bert", i) for i in range(20)]
    first.book(bookings)
    asyncio.run(first.run_until(first.converged))
    before = {staff: {e["id"] for e in first.events(staff)} for staff in ("anna", "bert")}
    first.runtime.close()

    # syncd's database is gone; the platform sends the same bookings again, some moved.
    second = make_world(double, f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    second.mailboxes = first.mailboxes
    _rebind(second)
    second.book([(key, staff, slot + 100 if slot % 5 == 0 else slot)
                 for key, staff, slot in bookings])
    asyncio.run(second.run_until(second.converged))

    for staff in ("anna", "bert"):
        assert {e["id"] for e in second.events(staff)} == before[staff]
        assert set(tags(second, staff).values()) == {1}
    assert {m.remote_id for m in second.mirrors()} == before["anna"] | before["bert"]
    starts = {
        p["value"]: parse_time(e["start"])
        for staff in ("anna", "bert")
        for e in second.events(staff)
        for p in e["singleValueExtendedProperties"]
    }
    for key, _, slot in bookings:
        assert starts[event_uid("acme", key)] == f.slot(slot + 100 if slot % 5 == 0 else slot)
    second.runtime.close()


def _rebind(world: World) -> None:
    """The staff and their bindings as before, without new mailboxes."""
    with world.runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        for staff, mailbox in world.mailboxes.items():
            f.staff_with_calendar(session, shop, staff, mailbox, "graph")


def test_a_throttling_storm_is_waited_out_within_the_limits(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    world = make_world(double, database_url, tmp_path)
    staff = [f"s{i}" for i in range(10)]
    world.add_staff(staff)
    world.book([(f"b{i}", staff[i % 10], i // 10) for i in range(1000)])
    double.faults.throttle_rate = 0.3
    double.faults.unavailable_rate = 0.05
    double.faults.seed(11)
    throttled_before = sample("syncd_graph_throttled_total", status="429")

    asyncio.run(world.run_until(world.converged, timeout=240))

    assert double.stats.throttled > 100
    assert double.stats.early_requests == 0
    assert max(double.stats.peak_in_flight.values()) <= 4
    assert sample("syncd_graph_throttled_total", status="429") > throttled_before
    for member in staff:
        assert len(world.events(member)) == 100
        assert set(tags(world, member).values()) == {1}
    assert not [m for m in world.mirrors() if m.dead]
    world.runtime.close()


def test_a_token_expiring_mid_run_goes_unnoticed(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    world = make_world(double, database_url, tmp_path)
    staff = ["anna", "bert", "cleo", "dora"]
    world.add_staff(staff)
    world.book([(f"b{i}", staff[i % 4], i // 4) for i in range(160)])
    double.latency_seconds = 0.02
    retries_before = sample("syncd_mirror_writes_total", connector="m365", outcome="retry")
    pauses_before = sample("syncd_calendar_pauses_total", connector="m365")
    expired: list[int] = []

    def expire_midway() -> None:
        made = sum(len(world.events(s)) for s in staff)
        if not expired and made >= 40:
            double.expire_tokens()
            expired.append(made)

    asyncio.run(world.run_until(world.converged, during=expire_midway))

    assert expired
    assert expired[0] < 160
    assert double.stats.token_requests == 2  # the first token and one renewal
    assert sample("syncd_mirror_writes_total", connector="m365", outcome="retry") == retries_before
    assert sample("syncd_calendar_pauses_total", connector="m365") == pauses_before
    assert all(m.last_error is None and m.attempts == 0 for m in world.mirrors())
    assert sum(len(world.events(s)) for s in staff) == 160
    world.runtime.close()


def test_revoked_credentials_hold_back_only_their_bindings(
    double: GraphDouble, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    double.add_app("5b0c2d1e-other-app", secret="other-secret")
    tables = {"graph": {}, "other": {"client_id": "5b0c2d1e-other-app", "secret": "other-secret"}}
    # A long pause after the refusal, so a slow run cannot retry bert and count twice.
    world = make_world(double, database_url, tmp_path, tables, backoff_max_seconds=60)
    world.add_staff(["anna"], connector="graph")
    world.add_staff(["bert"], connector="other")
    world.book([(f"b{i}", "anna" if i % 2 else "bert", i) for i in range(20)])
    double.revoke("5b0c2d1e-other-app")
    auth_errors_before = sample("syncd_binding_auth_errors_total", connector="m365")

    def anna_done_and_bert_refused() -> bool:
        anna_done = len(world.events("anna")) == 10
        return anna_done and world.binding("bert").state == BindingState.AUTH_ERROR

    asyncio.run(world.run_until(anna_done_and_bert_refused))

    assert world.events("bert") == []
    assert world.binding("anna").state == BindingState.OK
    assert sample("syncd_binding_auth_errors_total", connector="m365") == auth_errors_before + 1
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    with ApiClient(create_app(world.runtime), {"Authorization": f"Bearer {API_KEY}"}) as api:
        shown = api.get("/api/v1/merchants/acme/staff/bert/calendars/bert-cal").json()
        assert shown["state"] == "auth_error"
        assert "AADSTS65001" in shown["last_error"]
        assert shown["pending_mirrors"] == 10
        assert api.get("/api/v1/merchants/acme/staff/anna/calendars/anna-cal").json()[
            "state"] == "ok"
    world.runtime.close()


def test_an_event_deleted_in_outlook_is_made_again_in_its_calendar(
    double: GraphDouble, database_url: str, tmp_path: Path
) -> None:
    world = make_world(double, database_url, tmp_path)
    world.add_staff(["anna"])
    world.book([("b1", "anna", 0)])
    asyncio.run(world.run_until(world.converged))
    (first,) = world.events("anna")
    double.delete_event_by_hand(world.mailboxes["anna"], first["id"])  # to Deleted Items
    world.book([("b1", "anna", 4)])  # rescheduled: the worker writes again
    asyncio.run(world.run_until(world.converged))
    (again,) = world.events("anna")
    assert again["id"] != first["id"]
    assert parse_time(again["start"]) == f.slot(4)
    (mirror,) = world.mirrors()
    assert (mirror.remote_id, mirror.generation) == (again["id"], 1)  # a new create lineage
    world.runtime.close()

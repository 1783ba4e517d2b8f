"""The metrics listener and the database gauges it serves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, update

from syncd.errors import ConfigError
from syncd.notify.models import OutboxMessage
from syncd.ops.collector import DatabaseCollector
from syncd.ops.health import Heartbeat, Readiness
from syncd.ops.listener import MetricsListener, process_registry
from syncd.runtime import Runtime
from syncd.store.models import Booking, CalendarBinding, Mirror
from syncd.timeutil import utcnow
from tests import factories as f
from tests.ops.conftest import registry_samples, samples


@pytest.fixture
def listener(runtime: Runtime) -> Iterator[MetricsListener]:
    heartbeat = Heartbeat()
    readiness = Readiness(runtime.engine, heartbeat, worker_stale_after_seconds=60)
    listener = MetricsListener("127.0.0.1", 0, process_registry(runtime, heartbeat), readiness)
    listener.start()
    yield listener
    listener.stop()


def seed(runtime: Runtime, bookings: int) -> None:
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        f.service(session, shop)
        f.staff_with_calendar(session, shop, "alice", "alice-cal")
        f.staff_with_calendar(session, shop, "bob", "bob-cal")
        for i in range(bookings):
            f.book(session, f"b{i}", ("alice", "bob")[i % 2], f.slot(i))


def age_bookings(runtime: Runtime, seconds: float) -> None:
    with runtime.sessions.begin() as session:
        session.execute(update(Booking).values(updated_at=utcnow() - timedelta(seconds=seconds)))


def value(exposition: str, name: str, **labels: str) -> float:
    found = [s.value for s in samples(exposition, name) if s.labels == labels]
    assert len(found) == 1, (name, labels, samples(exposition, name))
    return found[0]


def scrape(listener: MetricsListener) -> str:
    response = httpx.get(listener.url + "/metrics")
    assert response.status_code == 200
    return response.text


def test_database_gauges_show_the_backlog(runtime: Runtime, listener: MetricsListener) -> None:
    seed(runtime, 6)
    age_bookings(runtime, 120)
    with runtime.sessions.begin() as session:  # one dead letter, one calendar held back
        session.execute(update(Mirror).where(Mirror.id == 1).values(dead=True))
        session.execute(
            update(CalendarBinding)
            .where(CalendarBinding.calendar_id == "bob-cal")
            .values(paused_until=utcnow() + timedelta(hours=1))
        )
    text = scrape(listener)
    account = {"connector": "memory", "account": "local"}
    assert value(text, "syncd_mirrors_pending", **account) == 5
    assert value(text, "syncd_mirrors_dead_lettered", **account) == 1
    assert 110 < value(text, "syncd_mirrors_oldest_pending_age_seconds", **account) < 600
    assert value(text, "syncd_calendar_bindings", **account, state="paused") == 1
    assert value(text, "syncd_calendar_bindings", **account, state="idle") == 1
    assert value(text, "syncd_calendar_bindings", **account, state="leased") == 0
    assert value(text, "syncd_database_scrape_success") == 1
    assert value(text, "syncd_mail_outbox_messages", state="queued") >= 0
    assert value(text, "syncd_webhook_deliveries", state="pending") == 0


def test_outbox_depth_and_age(runtime: Runtime, listener: MetricsListener) -> None:
    seed(runtime, 1)
    with runtime.sessions.begin() as session:
        session.add(
            OutboxMessage(
                merchant_id=1, kind="confirmation", audience="customer", to_address="a@b.example",
                to_name="A", timezone="UTC", payload={}, state="queued", attempts=0,
                next_attempt_at=utcnow(), queued_at=utcnow() - timedelta(seconds=300),
            )
        )
    text = scrape(listener)
    assert value(text, "syncd_mail_outbox_messages", state="queued") >= 1
    assert 290 < value(text, "syncd_mail_outbox_oldest_age_seconds") < 900
    assert "a@b.example" not in text


def test_an_account_without_rows_reports_zeros(runtime: Runtime, listener: MetricsListener) -> None:
    text = scrape(listener)
    account = {"connector": "memory", "account": "local"}
    assert value(text, "syncd_mirrors_pending", **account) == 0
    assert value(text, "syncd_mirrors_oldest_pending_age_seconds", **account) == 0
    for state in ("inactive", "auth_error", "paused", "leased", "idle"):
        assert value(text, "syncd_calendar_bindings", **account, state=state) == 0


def test_readings_are_cached_between_scrapes(runtime: Runtime) -> None:
    collector = DatabaseCollector(runtime.engine, {"local": "memory"}, cache_seconds=60)
    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    list(collector.collect())
    first = len(statements)
    assert first > 0
    list(collector.collect())
    assert len(statements) == first
    collector.cache_seconds = 0
    list(collector.collect())
    assert len(statements) > first


def test_a_failed_reading_reports_failure_and_no_stale_numbers(tmp_path: object) -> None:
    from syncd.store.db import create_db_engine
    from tests.servers import free_port

    engine = create_db_engine(f"postgresql://syncd@127.0.0.1:{free_port()}/syncd")
    collector = DatabaseCollector(engine, {"local": "memory"}, cache_seconds=0)
    names = {family.name: family for family in collector.collect()}
    engine.dispose()
    assert names["syncd_database_scrape_success"].samples[0].value == 0
    assert "syncd_mirrors_pending" not in names


def test_health_and_readiness_on_the_listener(runtime: Runtime, listener: MetricsListener) -> None:
    assert httpx.get(listener.url + "/healthz").json() == {"status": "ok"}
    not_yet = httpx.get(listener.url + "/readyz")
    assert not_yet.status_code == 503
    assert not_yet.json()["failing"] == ["worker"]
    assert httpx.get(listener.url + "/nothing").status_code == 404


def test_a_taken_port_is_a_configuration_problem(
    runtime: Runtime, listener: MetricsListener
) -> None:
    second = MetricsListener("127.0.0.1", listener.port, process_registry(runtime, None), None)
    with pytest.raises(ConfigError, match=r"metrics\.port: cannot listen on 127\.0\.0\.1:\d+"):
        second.start()


def test_the_process_counters_are_served_with_the_gauges(
    runtime: Runtime, listener: MetricsListener
) -> None:
    registry = process_registry(runtime, None)
    names = {family.name for family in registry.collect()}
    assert {"syncd_mirror_writes", "syncd_mirrors_pending", "syncd_mail_messages"} <= names
    scraped = scrape(listener)
    assert "# TYPE syncd_mirror_writes_total counter" in scraped
    assert registry_samples(registry, "syncd_database_scrape_success")[0].value == 1
    time.sleep(0)  # the listener served while this thread read: no shared state broke

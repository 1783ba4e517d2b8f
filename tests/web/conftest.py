"""The manage pages on a fresh database (SQLite and PostgreSQL), with a shop, two bookings
and their links, behind a clock the test moves.

Customers are `Browser`s: HTTP clients over the ASGI app, each with its own
cookie jar, as two people on two devices would be.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette

from connectors.memory import MemoryConnector
from syncd.config import Settings, load_config
from syncd.manage.tokens import issue_token
from syncd.runtime import Runtime
from syncd.schemas import BindingIn, BookingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant, upsert_binding, upsert_merchant, upsert_service
from syncd.store.catalog import upsert_staff as _upsert_staff
from syncd.store.models import Booking
from syncd.store.schema import upgrade
from syncd.web.app import manage_mount
from syncd.web.limits import FailureLimiter
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.dbs import database_url

__all__ = ["database_url"]

NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday; Berlin is UTC+1 in March
START_A = datetime(2030, 3, 7, 9, 0, tzinfo=UTC)  # Thursday 10:00 in Berlin
START_B = datetime(2030, 3, 7, 13, 0, tzinfo=UTC)
FREE_SLOT = datetime(2030, 3, 8, 10, 0, tzinfo=UTC)  # Friday 11:00 in Berlin
EVERY_DAY = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Shop:
    runtime: Runtime
    tokens: dict[str, str]  # booking key -> its manage token
    clock: Clock

    def booking(self, key: str) -> Booking:
        with self.runtime.sessions.begin() as session:
            found = session.query(Booking).filter_by(key=key).one()
            session.expunge(found)
            return found


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SYNCD_WEB_TEST_SECRET", "s" * 43)
    return load_config(None, environ={
        "SYNCD_DATABASE__URL": database_url,
        "SYNCD_MANAGE__PUBLIC_URL": "http://testserver",
        "SYNCD_MANAGE__SECRET_ENV": "SYNCD_WEB_TEST_SECRET",
        "SYNCD_CONNECTORS__LOCAL__KIND": "memory",
    })


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    runtime.connectors = {"local": MemoryConnector()}
    yield runtime
    runtime.close()


def booking_in(staff: str, start: datetime, **extra: object) -> BookingIn:
    return BookingIn.model_validate({
        "service": "cut", "staff": staff, "start": start.isoformat(),
        "customer": {"name": "Ada", "email": "ada@example.org", "timezone": "Europe/Berlin"},
        **extra,
    })


def seed(runtime: Runtime, service: dict[str, object] | None = None) -> dict[str, str]:
    """Salon One: alice and bob (bound to memory calendars) deliver "cut"; bookings a and b
    with alice, each with a manage link."""
    with runtime.sessions.begin() as session:
        shop, _ = upsert_merchant(session, "m1", MerchantIn.model_validate({
            "name": "Salon One", "timezone": "Europe/Berlin",
            "contact_text": "Please call us on 030 1234 5678.",
            "booking_page_url": "https://salon.example/book",
        }))
        for key in ("alice", "bob"):
            member, _ = _upsert_staff(session, shop, key, StaffIn.model_validate(
                {"name": key.title(), "timezone": "Europe/Berlin", "working_hours": EVERY_DAY}))
            upsert_binding(session, member, "work",
                           BindingIn(connector="local", calendar_id=f"{key}-work"), {"local"})
        upsert_service(session, shop, "cut", ServiceIn.model_validate({
            "name": "Haircut", "duration_minutes": 30, "allow_change_staff": True,
            "manage_web_bookings": True,
            "staff": ["alice", "bob"], **(service or {}),
        }))
    tokens = {}
    for key, start, extra in (("a", START_A, {"paid": True}), ("b", START_B, {})):
        with runtime.sessions.begin() as session:
            booking, _ = put_booking(session, get_merchant(session, "m1"), key,
                                     booking_in("alice", start, **extra))
            tokens[key] = issue_token(session, booking)
    return tokens


def pages_app(runtime: Runtime, clock: Clock, limiter: FailureLimiter | None = None) -> Starlette:
    """The pages mounted as syncd.api.create_app mounts them, on the test's clock."""
    return Starlette(routes=[manage_mount(runtime, clock=clock, limiter=limiter)])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service_settings() -> dict[str, object]:
    """Service fields over the defaults; a test overrides this by parametrizing it."""
    return {}


@pytest.fixture
def shop(runtime: Runtime, clock: Clock, service_settings: dict[str, object]) -> Shop:
    return Shop(runtime, seed(runtime, service_settings), clock)


Browsers = Callable[..., ApiClient]


@pytest.fixture
def browsers(shop: Shop) -> Iterator[Browsers]:
    """Open a new customer browser: `browsers()`; `browsers(limiter=...)` for a rate limit."""
    opened: list[ApiClient] = []

    def open_browser(limiter: FailureLimiter | None = None) -> ApiClient:
        client = ApiClient(pages_app(shop.runtime, shop.clock, limiter)).__enter__()
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no form token"
    return match.group(1)


def slot_query(start: datetime, staff: str | None = None) -> dict[str, str]:
    query = {"start": start.isoformat()}
    return query | ({"staff": staff} if staff else {})


def hours_before(start: datetime, hours: float) -> datetime:
    return start - timedelta(hours=hours)
